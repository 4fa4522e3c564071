"""``scribe-ls``: the server entry point and the legacy tool's verbs.

``scribe-ls`` alone (or ``scribe-ls serve``) speaks JSON-RPC on stdio. Every other verb
opens the repository's store in-process, does its one thing and exits; the store is safe
to share with running servers, which see the change too. Verbs never import pygls, so a
``scribe-ls append`` costs little more than starting Python.

Exit codes: 0 done, 1 the request failed (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._version import __version__
from .checks import BACKLOG_ID_RE, ENTRY_KINDS, SESSION_STATUSES
from .errors import InvalidParams, ScribeError, on_wire

if TYPE_CHECKING:
    from .protocol import Entry, Session
    from .service import Scribe


class UsageError(Exception):
    """Bad command-line use: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="scribe-ls",
        description="Keep your working session next to the code. Without a verb: serve JSON-RPC on stdio.",
    )
    parser.add_argument("--version", action="version", version=f"scribe-ls {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", default=".", help="repository (or directory) to work in; default: cwd")
    common.add_argument("--json", action="store_true", help="print JSON instead of text")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)

    serve = verbs.add_parser("serve", parents=[common], help="serve JSON-RPC (stdio by default)")
    serve.add_argument("--stdio", action="store_true", help="serve on stdin/stdout (the default)")
    serve.add_argument("--tcp", metavar="[HOST:]PORT", help="serve on TCP, any number of clients")
    serve.add_argument(
        "--ws", metavar="[HOST:]PORT", help="serve on WebSocket (loopback unless HOST says otherwise)"
    )
    serve.add_argument(
        "--socket",
        nargs="?",
        const="",
        metavar="PATH",
        help="serve on a Unix socket, 0600 in a 0700 dir (default: $XDG_RUNTIME_DIR/scribe-ls/scribe.sock)",
    )
    serve.add_argument(
        "--token",
        help="token TCP and WebSocket clients must present (default: $SCRIBE_LS_TOKEN, else a random one)",
    )
    serve.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="browser Origin to accept; repeatable",
    )

    live = verbs.add_parser(
        "live", parents=[common], help="join the session and watch it happen (Ctrl-C stops)"
    )
    live.add_argument("--backlog-id", help="B-123; default: from the branch name")
    live.add_argument("--title")

    start = verbs.add_parser("start", parents=[common], help="start (or rejoin) a session")
    start.add_argument("--backlog-id", help="B-123; default: from the branch name")
    start.add_argument("--title")
    start.add_argument("--tag", action="append", default=[], dest="tags", help="repeatable")
    start.add_argument("--type")
    start.add_argument("--priority")

    stop = verbs.add_parser("stop", parents=[common], help="stop a session (default: the current one)")
    stop.add_argument("target", nargs="?", help="session id or backlog id")

    append = verbs.add_parser("append", parents=[common], help="add a note (or decision, idea, todo)")
    append.add_argument("text", nargs="+", help="the text; '-' reads it from stdin")
    append.add_argument("--kind", default="note", choices=ENTRY_KINDS)
    append.add_argument("--session", dest="target", help="session id or backlog id")
    append.add_argument("--file", action="append", default=[], dest="files", help="repeatable")

    verbs.add_parser("status", parents=[common], help="the store, sessions and the current session")

    listing = verbs.add_parser("list", parents=[common], help="sessions, newest first")
    listing.add_argument("--status", choices=SESSION_STATUSES)
    listing.add_argument("--backlog-id")
    listing.add_argument("--tag")
    listing.add_argument("--limit", type=int, default=20)

    for name, action in (("tag", "add"), ("untag", "remove")):
        sub = verbs.add_parser(name, parents=[common], help=f"{action} tags on a session")
        sub.add_argument("tags", nargs="+")
        sub.add_argument("--session", dest="target", help="session id or backlog id")

    info = verbs.add_parser("info", parents=[common], help="one session and its latest entries")
    info.add_argument("target", nargs="?", help="session id or backlog id; default: current")
    info.add_argument("--entries", type=int, default=10, help="how many recent entries")

    verbs.add_parser("cleanup", parents=[common], help="stop sessions idle past their timeout")

    redact = verbs.add_parser(
        "redact", parents=[common], help="print a file with secrets redacted, or --check what would be"
    )
    redact.add_argument("path", metavar="FILE", help="the file; '-' reads stdin")
    redact.add_argument(
        "--check", action="store_true", help="list what would be redacted (exit 1 if anything would)"
    )

    validate = verbs.add_parser("validate", parents=[common], help="check the store and the worklogs")
    validate.add_argument("--fix", action="store_true", help="re-render worklogs that differ")

    context = verbs.add_parser("context", parents=[common], help="the context packet (for you or an agent)")
    context.add_argument("--format", choices=("markdown", "json"), default="markdown")
    context.add_argument("--max-chars", type=int, default=12000)
    context.add_argument(
        "--sections", help="comma-separated: session,git,diff,commits,worklog,summary,sessions"
    )
    context.add_argument("--session", dest="target", help="session id or backlog id; default: current")

    summary = verbs.add_parser(
        "summarize", parents=[common], help="write the session's summary (.scribe/summaries/)"
    )
    summary.add_argument("target", nargs="?", help="session id or backlog id; default: current")

    search = verbs.add_parser("search", parents=[common], help="full-text search over all entries")
    search.add_argument("query", nargs="+")
    search.add_argument("--limit", type=int, default=20)

    importing = verbs.add_parser("import", parents=[common], help="import legacy worklogs and registry")
    importing.add_argument(
        "paths", nargs="*", help="worklog .md, session_registry.json or folders; default: artifacts/"
    )

    call = verbs.add_parser("call", parents=[common], help="one raw JSON-RPC request, in-process")
    call.add_argument("method", help="e.g. scribe/status")
    call.add_argument("params", nargs="?", default="{}", help="JSON params object")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv or ["serve"])
        if args.verb == "serve":
            return _serve(args)
        if args.verb == "redact":
            return _redact(args)  # reads a file; no store needed
        return asyncio.run(_run_verb(args))
    except UsageError as exc:
        print(f"scribe-ls: {exc}", file=sys.stderr)
        return 2
    except ScribeError as exc:
        if isinstance(exc, InvalidParams):
            exc = on_wire(exc)  # the field as the protocol and its docs name it
        print(f"scribe-ls: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    from .config import load_config
    from .layout import Layout, find_repo_root
    from .logs import setup_logging

    root = find_repo_root(Path(args.root))
    config = load_config(root)
    setup_logging(Layout(root), config)
    from . import server

    if sum(bool(x) for x in (args.tcp, args.ws, args.socket is not None)) > 1:
        raise UsageError("--tcp, --ws and --socket: choose one transport")
    limit = config.max_message_bytes
    if args.socket is not None:
        socket_path = Path(args.socket) if args.socket else server.default_socket_path()
        try:
            return server.serve_unix(socket_path, max_message_bytes=limit)
        except OSError as exc:  # the socket's directory or path is not ours to use
            print(f"scribe-ls: --socket: {exc}", file=sys.stderr)
            return 1
    if args.tcp or args.ws:
        import os
        import secrets

        host, port = _host_port("--tcp" if args.tcp else "--ws", args.tcp or args.ws)
        token = args.token or os.environ.get("SCRIBE_LS_TOKEN") or secrets.token_urlsafe(24)
        if token != args.token and token != os.environ.get("SCRIBE_LS_TOKEN"):
            # stderr: the token is for the person starting the server, never the protocol.
            print(f"scribe-ls: token: {token}", file=sys.stderr, flush=True)
        if args.tcp:
            return server.serve_tcp(host, port, token=token, max_message_bytes=limit)
        return server.serve_ws(host, port, token=token, origins=args.allow_origin, max_message_bytes=limit)
    return server.serve_stdio(max_message_bytes=limit)


def _redact(args: argparse.Namespace) -> int:
    from .redact import findings, redact

    try:
        if args.path == "-":
            text = sys.stdin.read()
        else:
            text = Path(args.path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"FILE: cannot read {args.path}: {exc.strerror}") from None
    if not args.check:
        sys.stdout.write(redact(text))
        return 0
    found = []
    for finding in findings(text):
        line_no = text.count("\n", 0, finding.start) + 1
        line = text.splitlines()[line_no - 1] if text else ""
        found.append({"path": args.path, "line": line_no, "shape": finding.shape, "text": redact(line)})
    if args.json:
        _print_json({"findings": found})
    elif not found:
        print(f"no secrets found in {args.path}")
    else:
        for item in found:
            print(f"{item['path']}:{item['line']}: {item['shape']}: {item['text']}")
    return 1 if found else 0


def _host_port(option: str, value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"{option}: expected [HOST:]PORT, got {value!r}")
    return host or "127.0.0.1", int(port)


async def _run_verb(args: argparse.Namespace) -> int:
    from .logs import setup_logging
    from .service import Scribe

    # `live` stays: it relays other processes' changes and records when no server does.
    scribe = Scribe(args.root, relay=args.verb == "live", record=args.verb == "live")
    setup_logging(scribe.store.layout, scribe.config, stderr=False)
    async with scribe:
        return await VERBS[args.verb](scribe, args)


# -- output -------------------------------------------------------------------------------


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _session_line(session: Session) -> str:
    marker = {"active": "●", "paused": "‖", "completed": "✓"}[session.status]
    tags = f"  [{', '.join(session.tags)}]" if session.tags else ""
    label = session.backlog_id or "-"
    return (
        f"{marker} {label:<8} {session.status:<9} {session.id}  {session.title}{tags}"
        f"  ({session.stats.entries} entries, {session.stats.files_changed} files)"
    )


def _entry_line(entry: Entry) -> str:
    text = entry.text.replace("\n", " ⏎ ")
    return f"  #{entry.id:<5} {entry.at[:19].replace('T', ' ')}  {entry.kind:<8} {text}"


def _show_session(args: argparse.Namespace, session: Session, verb: str) -> int:
    if args.json:
        _print_json(session.to_wire())
    else:
        print(f"{verb}: {_session_line(session)}")
    return 0


async def _resolve(scribe: Scribe, target: str | None) -> str | None:
    """A session id for ``target``: a session id, a backlog id (its newest session), or
    None for "the current session"."""
    if target is None:
        return None
    if BACKLOG_ID_RE.fullmatch(target):
        sessions = await scribe.list_sessions(backlog_id=target, limit=20)
        open_sessions = [s for s in sessions if s.status != "completed"]
        chosen = (open_sessions or sessions)[:1]
        if not chosen:
            raise ScribeError(-32010, f"no session for {target}")
        return chosen[0].id
    return target


# -- verbs --------------------------------------------------------------------------------


async def _start(scribe: Scribe, args: argparse.Namespace) -> int:
    session = await scribe.start_session(args.backlog_id, args.title, args.tags, args.type, args.priority)
    return _show_session(args, session, "session")


async def _stop(scribe: Scribe, args: argparse.Namespace) -> int:
    session = await scribe.stop_session(await _resolve(scribe, args.target))
    return _show_session(args, session, "stopped")


async def _append(scribe: Scribe, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == ["-"] else " ".join(args.text)
    session_id = await _resolve(scribe, args.target)
    entry = await scribe.append_entry(text, args.kind, session_id, args.files)
    if args.json:
        _print_json(entry.to_wire())
    else:
        print(f"added #{entry.id} ({entry.kind}) to {entry.session_id}")
    return 0


async def _status(scribe: Scribe, args: argparse.Namespace) -> int:
    status = await scribe.status()
    if args.json:
        _print_json(status)
        return 0
    current = await scribe.current_session()
    sessions = status["sessions"]
    print(f"scribe-ls {status['version']}  root {status['root']}")
    print(f"sessions: {sessions['active']} active, {sessions['paused']} paused, {sessions['total']} total")
    print(f"current:  {_session_line(current) if current else 'none (scribe-ls start)'}")
    return 0


async def _list(scribe: Scribe, args: argparse.Namespace) -> int:
    sessions = await scribe.list_sessions(
        status=args.status, backlog_id=args.backlog_id, tag=args.tag, limit=args.limit
    )
    if args.json:
        _print_json({"sessions": [s.to_wire() for s in sessions]})
    elif not sessions:
        print("no sessions")
    else:
        for session in sessions:
            print(_session_line(session))
    return 0


async def _tag(scribe: Scribe, args: argparse.Namespace) -> int:
    tags = args.tags
    session_id = await _resolve(scribe, args.target) or (await scribe.session_or_current(None)).id
    change = {"add_tags": tags} if args.verb == "tag" else {"remove_tags": tags}
    session = await scribe.update_session(session_id, **change)
    return _show_session(args, session, "tagged" if args.verb == "tag" else "untagged")


async def _info(scribe: Scribe, args: argparse.Namespace) -> int:
    session = await scribe.session_or_current(await _resolve(scribe, args.target))
    recent = await scribe.recent_entries(session.id, args.entries) if args.entries > 0 else []
    worklog = scribe.store.worklog_path(session.worklog_key)
    if args.json:
        _print_json(
            session.to_wire() | {"recentEntries": [e.to_wire() for e in recent], "worklog": str(worklog)}
        )
        return 0
    print(_session_line(session))
    print(f"  branch {session.branch or '-'}  type {session.type}  priority {session.priority}")
    print(f"  started {session.started_at}  last activity {session.last_activity_at}")
    print(f"  active {session.stats.active_seconds // 60} min  worklog {worklog}")
    for entry in recent:
        print(_entry_line(entry))
    return 0


async def _cleanup(scribe: Scribe, args: argparse.Namespace) -> int:
    stopped = await scribe.cleanup()
    if args.json:
        _print_json({"stopped": [s.to_wire() for s in stopped]})
    elif not stopped:
        print("no idle sessions")
    else:
        for session in stopped:
            print(f"stopped: {_session_line(session)}")
    return 0


async def _validate(scribe: Scribe, args: argparse.Namespace) -> int:
    problems = list(await scribe.store.integrity_check())
    quarantined = [str(scribe.store.dir / name) for name in scribe.store.layout.quarantined()]
    fixed = []
    for key in await scribe.store.worklog_keys():
        path = scribe.store.worklog_path(key)
        expected = await scribe.store.expected_worklog(key)
        actual = await asyncio.to_thread(scribe.store.layout.read_text, path)
        if actual == expected:
            continue
        if args.fix:
            await scribe.store.render_worklog(key)
            fixed.append(str(path))
        else:
            problems.append(f"{path}: {'missing' if actual is None else 'differs from the store'}")
    if args.json:
        _print_json({"ok": not problems, "problems": problems, "fixed": fixed, "quarantined": quarantined})
    else:
        for line in problems:
            print(f"problem: {line}")
        for line in fixed:
            print(f"fixed: {line}")
        for line in quarantined:
            print(f"quarantined: {line} (a damaged store moved aside; see scribe-ls import)")
        if not problems:
            print(f"ok: store {scribe.store.path} and worklogs are consistent")
    return 0 if not problems else 1


async def _context(scribe: Scribe, args: argparse.Namespace) -> int:
    sections = [s.strip() for s in args.sections.split(",") if s.strip()] if args.sections else None
    packet = await scribe.context(
        await _resolve(scribe, args.target), sections=sections, max_chars=args.max_chars, format=args.format
    )
    if args.format == "markdown" and not args.json:
        print(packet["markdown"])
    else:
        _print_json(packet)
    return 0


async def _summarize(scribe: Scribe, args: argparse.Namespace) -> int:
    result = await scribe.summarize(await _resolve(scribe, args.target))
    if args.json:
        _print_json(result)
    else:
        print(result["markdown"].strip("\n"))
        print(f"\nwritten to {result['path']}")
    return 0


async def _search(scribe: Scribe, args: argparse.Namespace) -> int:
    hits = await scribe.search(" ".join(args.query), args.limit)
    if args.json:
        _print_json({"hits": hits})
    elif not hits:
        print("no matches")
    else:
        for hit in hits:
            entry = hit["entry"]
            label = hit["backlogId"] or entry["sessionId"]
            print(f"{label:<8} #{entry['id']:<5} {entry['kind']:<8} {hit['snippet']}")
    return 0


async def _call(scribe: Scribe, args: argparse.Namespace) -> int:
    try:
        params = json.loads(args.params)
    except json.JSONDecodeError as exc:
        raise UsageError(f"params: not valid JSON ({exc})") from None
    _print_json(await scribe.handle(args.method, params))
    return 0


async def _import(scribe: Scribe, args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or [scribe.root / "artifacts"]
    report = await scribe.import_legacy([p if p.is_absolute() else Path.cwd() / p for p in paths])
    if args.json:
        _print_json(report)
        return 0
    for item in report["imported"]:
        print(f"imported {item['backlogId']} as {item['sessionId']} ({item['entries']} entries)")
    for item in report["skipped"]:
        print(f"skipped {item['what']}: {item['why']}")
    if not report["imported"] and not report["skipped"]:
        print("nothing to import")
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
            print(f"scribe-ls live: {_session_line(session)}", flush=True)
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
    "start": _start,
    "stop": _stop,
    "append": _append,
    "status": _status,
    "list": _list,
    "tag": _tag,
    "untag": _tag,
    "info": _info,
    "cleanup": _cleanup,
    "validate": _validate,
    "context": _context,
    "summarize": _summarize,
    "search": _search,
    "import": _import,
    "call": _call,
}
