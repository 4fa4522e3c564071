"""The CLI verbs that need the event loop: ``live`` (records and relays until Ctrl-C),
``context`` (git fetched in parallel), ``summarize`` and ``call`` (one request through the
method table, in-process). Imported only when one of them runs."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from .logs import setup_logging
from .service import Scribe
from .verbs import READ_ONLY, no_store_here, print_json, resolve, session_line


class BadJson(ValueError):
    """The params given to ``call`` are not JSON."""


def run(args: argparse.Namespace) -> int:
    from . import verbs

    verbs.style = verbs.Style.for_stdout(args)
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
    sections = [s.strip() for s in args.sections.split(",") if s.strip()] if args.sections else None
    packet = await scribe.context(
        await _resolve(scribe, args.target), sections=sections, max_chars=args.max_chars, format=args.format
    )
    if args.format == "markdown" and not args.json:
        print(packet["markdown"])
    else:
        print_json(packet)
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
    from .rpc.methods import dispatch

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
        recorder = scribe.recorder
        role = "recording" if recorder and recorder.holds_lease else "following (another process records)"
        if args.json:
            _print_json_line(
                {"method": "live/started", "params": {"session": session.to_wire(), "role": role}}
            )
        else:
            print(f"scribe-ls live: {session_line(session)}", flush=True)
            print(f"  branch {session.branch or '-'} · {role} · Ctrl-C to stop", flush=True)
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            next_event = asyncio.ensure_future(anext(events))
            await asyncio.wait({next_event, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not next_event.done():
                next_event.cancel()
                break
            event = next_event.result()
            if args.json:
                _print_json_line({"method": event.method, "params": event.params})
            else:
                print(_live_line(event.method, event.params), flush=True)
    return 0


def _print_json_line(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False), flush=True)


def _live_line(method: str, params: dict[str, Any]) -> str:
    from datetime import datetime

    clock = datetime.now().strftime("%H:%M:%S")
    if method == "scribe/activity":
        paths = [f["path"] for f in params["files"]]
        shown = ", ".join(paths[:5]) + (f" (+{params['count'] - 5} more)" if params["count"] > 5 else "")
        return f"{clock}  activity  {params['count']} file(s): {shown}"
    if method == "scribe/entryAdded":
        entry = params["entry"]
        files = (
            f"  [{', '.join(entry['files'][:3])}{', …' if len(entry['files']) > 3 else ''}]"
            if entry["files"]
            else ""
        )
        return f"{clock}  {entry['kind']:<9} {entry['text'].splitlines()[0]}{files}"
    if method == "scribe/sessionChanged":
        session = params["session"]
        label = session["backlogId"] or session["id"]
        where = f"{session['status']}, branch {session['branch'] or '-'}"
        return f"{clock}  session   {label} {params['change']} ({where})"
    return f"{clock}  {method} {json.dumps(params)}"


VERBS: dict[str, Callable[[Scribe, argparse.Namespace], Awaitable[int]]] = {
    "live": _live,
    "context": _context,
    "summarize": _summarize,
    "call": _call,
}
