"""The CLI verbs that need the event loop: ``live`` (records and relays until Ctrl-C),
``context`` (git fetched in parallel), ``summarize`` and ``call`` (one request through the
method table, in-process). Imported only when one of them runs."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from ..core.service import Scribe
from ..lazylog import escape_controls
from ..logs import setup_logging
from . import output
from .output import print_json, session_line
from .store_verbs import READ_ONLY, no_store_here, resolve


class BadJson(ValueError):
    """The params given to ``call`` are not JSON."""


def run(args: argparse.Namespace) -> int:
    output.style = output.Style.for_stdout(args)
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    # `live` relays other processes' changes and records when no server does.
    scribe = Scribe(args.root, relay=args.verb == "live", record=args.verb == "live")
    if args.verb in READ_ONLY and not scribe.store.layout.exists():
        raise no_store_here(scribe.root)
    setup_logging(scribe.store.layout, scribe.config, stderr=False)
    async with scribe:
        return await VERBS[args.verb](scribe, args)


async def _resolve(scribe: Scribe, target: str | None) -> str | None:
    return await scribe.store.run(resolve, scribe.ledger, target)


async def _context(scribe: Scribe, args: argparse.Namespace) -> int:
    from ..context.packet_text import agent_json, packet_text

    sections = [s.strip() for s in args.sections.split(",") if s.strip()] if args.sections else None
    if args.json and args.format == "markdown":
        # The whole packet (its sections and its Markdown) as JSON, for a script.
        packet = await scribe.context(
            await _resolve(scribe, args.target),
            sections=sections,
            max_chars=args.max_chars,
            format=args.format,
            max_tokens=args.max_tokens,
        )
        print(agent_json(packet, indent=None))
        return 0
    # The packet as read (Markdown, or compact JSON in which no text from the repository can
    # open a tag), within both budgets.
    text, _ = await packet_text(
        scribe,
        max_chars=args.max_chars,
        max_tokens=args.max_tokens,
        format=args.format,
        sections=sections,
        session_id=await _resolve(scribe, args.target),
        etag_line=False,
    )
    print(text)
    return 0


async def _resume(scribe: Scribe, args: argparse.Namespace) -> int:
    target = args.target
    if target is not None and target.upper().startswith("B-"):
        packet = await scribe.resume(backlog_id=target)
    else:
        packet = await scribe.resume(session_id=target)
    if args.json:
        print_json(packet)
    else:
        print(packet["markdown"].strip("\n"))
    return 0


async def _summarize(scribe: Scribe, args: argparse.Namespace) -> int:
    result = await scribe.summarize(await _resolve(scribe, args.target))
    if args.json:
        print_json(result)
    else:
        print(result["markdown"].strip("\n"))
        print(f"\nwritten to {result['path']}")
    return 0


async def _call(scribe: Scribe, args: argparse.Namespace) -> int:
    from ..rpc.methods import dispatch

    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise BadJson(f"params: not valid JSON ({exc})") from None
    print_json(await dispatch(scribe, args.method, params))
    return 0


async def _live(scribe: Scribe, args: argparse.Namespace) -> int:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with scribe.subscribe() as events:
        session = await scribe.start_session(args.backlog_id, args.title)
        await asyncio.sleep(0.05)  # let the recorder try the lease before we say who records
        header = LiveHeader(scribe, args)
        header.show(session)
        order = CommitOrder()
        stopping = asyncio.ensure_future(stop.wait())
        next_event: asyncio.Future[Any] | None = None
        while not stop.is_set():
            if next_event is None:
                next_event = asyncio.ensure_future(anext(events))
            await asyncio.wait({next_event, stopping}, timeout=0.1, return_when=asyncio.FIRST_COMPLETED)
            ready = []
            if next_event.done():
                ready = order.add(next_event.result())
                next_event = None
            for event in ready + order.overdue():
                _live_print(args, event)
                if event.method == "scribe/sessionChanged":
                    await header.follow(event.params)
            header.check_recorder()
        if next_event is not None:
            next_event.cancel()
        for event in order.overdue(flush=True):
            _live_print(args, event)
        said = await _after_live(scribe, header)
    if said:  # what became of the session this run started: on the terminal, not a log
        print(said, file=sys.stderr, flush=True)
    return 0


async def _after_live(scribe: Scribe, header: LiveHeader) -> str | None:
    """On Ctrl-C: the session stays with whoever records, else it is handed to the
    background recorder, else paused (nothing would record it); said in a line."""
    session = await scribe.current_session()
    if session is None or session.id != header.session_id or session.status != "active":
        return None
    label = session.backlog_id or session.id
    if not header.recording:
        return f"scribe-ls live: {label} stays active; another process records it"
    from ..daemon import client as control

    try:
        handed = await asyncio.to_thread(control.hand_off, scribe.root, configured=scribe.config.daemon)
    except (OSError, control.DaemonError) as exc:
        handed, reason = None, f" (the background recorder: {exc})"
    else:
        reason = ""
    if handed is not None:
        return (
            f"scribe-ls live: {label} stays active; the background recorder records it (stop: scribe-ls stop)"
        )
    await scribe.update_session(session.id, status="paused")
    return f"scribe-ls live: {label} paused: nothing records it now{reason} (scribe-ls start resumes it)"


class LiveHeader:
    """The ``live`` header: which session this is and who records. It follows the
    session (a branch switch, another item started) and a recorder take-over."""

    def __init__(self, scribe: Scribe, args: argparse.Namespace) -> None:
        self.scribe = scribe
        self.args = args
        self.session_id: str | None = None
        self.branch: str | None = None
        self.recording: bool | None = None

    def show(self, session: Any) -> None:
        recorder = self.scribe.recorder
        self.recording = bool(recorder and recorder.holds_lease)
        self.session_id, self.branch = session.id, session.branch
        role = "recording" if self.recording else "following (another process records)"
        if self.args.json:
            params = {"session": session.to_wire(), "role": role}
            _print_json_line({"method": "live/session", "params": params})
            return
        print(f"scribe-ls live: {session_line(session)}", flush=True)
        print(f"  branch {session.branch or '-'} · {role} · Ctrl-C to stop", flush=True)

    async def follow(self, params: dict[str, Any]) -> None:
        """After a session change: if the current session or its branch is not what the
        header says any more, say what it is now."""
        current = await self.scribe.current_session()
        if current is not None and (current.id, current.branch) != (self.session_id, self.branch):
            self.show(current)

    def check_recorder(self) -> None:
        recorder = self.scribe.recorder
        recording = bool(recorder and recorder.holds_lease)
        if recording != self.recording and self.recording is not None:
            self.recording = recording
            if self.args.json:
                _print_json_line({"method": "live/recorder", "params": {"recording": recording}})
            else:
                print("  now recording (the process that recorded is gone)" if recording else
                      "  now following (another process records)", flush=True)  # fmt: skip


class CommitOrder:
    """Entries in the order the store committed them. This process's own writes are told
    at once, other processes' when the change feed is read, so an earlier entry can
    arrive later; ids are the commit order and every entry of the store arrives, so an
    entry waits (at most HOLD seconds) until the ones before it came."""

    HOLD = 0.25

    def __init__(self) -> None:
        self.next_id: int | None = None
        self.held: dict[int, tuple[float, Any]] = {}

    def add(self, event: Any) -> list[Any]:
        if event.method != "scribe/entryAdded":
            return [event]
        entry_id = event.params["entry"]["id"]
        if self.next_id is not None and entry_id < self.next_id:
            return [event]  # older than what was printed: nothing to wait for
        self.held[entry_id] = (asyncio.get_running_loop().time(), event)
        if self.next_id is None:
            self.next_id = entry_id
        return self._release()

    def _release(self) -> list[Any]:
        out = []
        while self.next_id in self.held:
            out.append(self.held.pop(self.next_id)[1])
            self.next_id += 1
        return out

    def overdue(self, *, flush: bool = False) -> list[Any]:
        """Entries held past HOLD: the gap before them is not coming (or all, on exit)."""
        out: list[Any] = []
        while self.held:
            oldest = min(at for at, _ in self.held.values())
            if not flush and asyncio.get_running_loop().time() - oldest < self.HOLD:
                break
            self.next_id = min(self.held)
            out += self._release()
        return out


def _live_print(args: argparse.Namespace, event: Any) -> None:
    if args.json:
        _print_json_line({"method": event.method, "params": event.params})
        return
    line = _live_line(event.method, event.params)
    if line is not None:
        print(line, flush=True)


def _print_json_line(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False), flush=True)


# Session changes worth a line (a stats update, "updated" by a save, is not).
_SAID_CHANGES = frozenset({"started", "resumed", "paused", "stopped", "completed", "switched"})


def _live_line(method: str, params: dict[str, Any]) -> str | None:
    """One readable line for an event (None: said already, or not worth a line)."""
    from datetime import datetime

    clock = datetime.now().strftime("%H:%M:%S")
    if method == "scribe/activity":
        paths = [f["path"] for f in params["files"]]
        shown = ", ".join(paths[:5]) + (f" (+{params['count'] - 5} more)" if params["count"] > 5 else "")
        return escape_controls(f"{clock}  saved     {params['count']} file(s): {shown}")
    if method == "scribe/entryAdded":
        entry = params["entry"]
        if entry["kind"] in ("activity", "system"):
            # The saves an activity entry tallies were said as they happened; a system
            # entry comes with the session change that says it in one line.
            return None
        files = (
            f"  [{', '.join(entry['files'][:3])}{', …' if len(entry['files']) > 3 else ''}]"
            if entry["files"]
            else ""
        )
        text = (entry["text"].splitlines() or [""])[0]
        return escape_controls(f"{clock}  {entry['kind']:<9} {text}{files}")
    if method == "scribe/sessionChanged":
        session = params["session"]
        if params.get("change") not in _SAID_CHANGES:
            return None
        label = session["backlogId"] or session["id"]
        where = f"{session['status']}, branch {session['branch'] or '-'}"
        return escape_controls(f"{clock}  session   {label} {params['change']} ({where})")
    if method == "scribe/summaryReady":
        return escape_controls(
            f"{clock}  summary   {params.get('backlogId') or ''} written to {params.get('path')}"
        )
    if method == "scribe/overlap":
        other = params.get("otherSession") or {}
        files = ", ".join(params.get("files", [])[:5])
        said = (
            params.get("message") or f"{other.get('backlogId') or other.get('id')} is also working on {files}"
        )
        return escape_controls(f"{clock}  overlap   {said}")
    if method == "scribe/resumeAvailable":
        session = params.get("session") or {}
        return escape_controls(
            f"{clock}  resume    {session.get('backlogId') or session.get('id')} can be picked up"
        )
    return None  # a push this verb does not say


VERBS: dict[str, Callable[[Scribe, argparse.Namespace], Awaitable[int]]] = {
    "live": _live,
    "context": _context,
    "resume": _resume,
    "summarize": _summarize,
    "call": _call,
}
