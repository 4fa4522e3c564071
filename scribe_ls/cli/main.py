"""``scribe-ls``: the server entry point and the legacy tool's verbs.

``scribe-ls`` alone (or ``scribe-ls serve``) speaks JSON-RPC on stdio. Every other verb
works in-process on the repository's store and exits; the store is safe to share with
running servers, which tell their clients. The store verbs (``verbs.py``) run without an
event loop and import neither asyncio, pygls nor watchfiles, so ``scribe-ls append`` costs
little more than starting Python; ``live``, ``context``, ``summarize`` and ``call``
(``verbs_async.py``) run the async service.

Exit codes: 0 done, 1 the request failed (message on stderr), 2 bad usage, 141 the
reader of the output left (``| head``), 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .._version import __version__
from ..errors import InvalidParams, ScribeError, on_wire
from ..spec.rules import SESSION_STATUSES, USER_KINDS

# Verbs that need the event loop; every other verb runs without one.
ASYNC_VERBS = ("live", "context", "summarize", "call", "resume")


class UsageError(Exception):
    """Bad command-line use: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Skipped:
    """A verb's parser that is not built: its arguments are not needed for this run."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Verbs:
    """``add_subparsers()``, building only the verb this run uses (argparse spends ~9 ms
    building all twenty; ``--help`` and mistakes get the full parser)."""

    def __init__(self, verbs: Any, only: str | None) -> None:
        self._verbs = verbs
        self._only = only
        self.built: list[str] = []

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self._only is not None and name != self._only:
            return _Skipped()
        self.built.append(name)
        return self._verbs.add_parser(name, **kwargs)


# argparse looks every message up in gettext's catalogues (~0.4 ms a string, a search of
# the locale directories each time). Python ships no argparse translations and ours are
# English, so the lookup finds nothing: skip it.
argparse._ = str  # type: ignore[attr-defined]  # a private name, replaced on purpose


def parse_args(argv: list[str]) -> argparse.Namespace:
    wanted = _verb_of(argv)
    parser, built = build_parser(only=wanted)
    if wanted is not None and wanted not in built:
        parser, _ = build_parser()  # not a verb: the full parser says which ones there are
    return parser.parse_args(argv)


def _verb_of(argv: list[str]) -> str | None:
    """The verb, skipping the global flags that may come before it."""
    words = iter(argv)
    for word in words:
        if word in ("--root", "--store"):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def build_parser(only: str | None = None) -> tuple[argparse.ArgumentParser, list[str]]:
    parser = _Parser(
        prog="scribe-ls",
        description="Keep your working session next to the code. Without a verb: serve JSON-RPC on stdio.",
    )
    parser.add_argument("--version", action="version", version=f"scribe-ls {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    # Before or after the verb: the top-level parser holds the defaults, and a verb's copy
    # only sets what was given after it.
    for holder, default_root, default_flag, default_store in (
        (parser, ".", False, None),
        (common, argparse.SUPPRESS, argparse.SUPPRESS, argparse.SUPPRESS),
    ):
        holder.add_argument(
            "--root", default=default_root, help="repository (or directory) to work in; default: cwd"
        )
        holder.add_argument(
            "--store",
            metavar="DIR",
            default=default_store,
            help="keep the store in DIR, not <root>/.scribe (also $SCRIBE_DIR; for read-only checkouts)",
        )
        holder.add_argument(
            "--json", action="store_true", default=default_flag, help="print JSON instead of text"
        )
        holder.add_argument(
            "-q", "--quiet", action="store_true", default=default_flag, help="print only what was asked for"
        )
        holder.add_argument(
            "--no-color",
            action="store_true",
            default=default_flag,
            help="no colour (also $NO_COLOR); colour is used only on a terminal",
        )
    verbs = _Verbs(parser.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser), only)

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
        help="token TCP and WebSocket clients must present (default: $SCRIBE_LS_TOKEN, else a random"
        " one). Any local user can read a command line (/proc/PID/cmdline): prefer $SCRIBE_LS_TOKEN"
        " or --token-file",
    )
    serve.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the token from PATH (a file only you can read: chmod 600)",
    )
    serve.add_argument(
        "--allow-root",
        action="append",
        default=[],
        metavar="DIR",
        help="TCP/WebSocket: another repository clients may open (default: only the one served); repeatable",
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
    append.add_argument("--kind", default="note", choices=USER_KINDS)
    append.add_argument("--session", dest="target", help="session id or backlog id")
    append.add_argument("--file", action="append", default=[], dest="files", help="repeatable")
    append.add_argument("--author", help="an agent or script writing it (shown in the worklog); omit for you")

    status = verbs.add_parser("status", parents=[common], help="the store, sessions and the current session")
    status.add_argument(
        "--metrics",
        action="store_true",
        help="also the background recorder's live metrics (scribe-ls daemon)",
    )

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

    compact = verbs.add_parser(
        "compact", parents=[common], help="roll old activity entries up into one per session and day"
    )
    compact.add_argument(
        "--older-than", type=int, metavar="DAYS", help="activity older than this (default 90)"
    )
    compact.add_argument("--dry-run", action="store_true", help="say what would be rolled up; change nothing")
    compact.add_argument(
        "--vacuum", action="store_true", help="then rewrite the whole file (frees space in an old store)"
    )

    context = verbs.add_parser("context", parents=[common], help="the context packet (for you or an agent)")
    context.add_argument("--format", choices=("markdown", "json"), default="markdown")
    context.add_argument(
        "--max-chars",
        type=int,
        default=12000,
        metavar="N",
        help="the most characters the packet printed may have (1000 to 1000000; default 12000)",
    )
    context.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help="the most tokens it may have, estimated offline (100 to 250000; default: no bound)",
    )
    context.add_argument(
        "--sections", help="comma-separated: session,git,diff,commits,worklog,summary,sessions"
    )
    context.add_argument("--session", dest="target", help="session id or backlog id; default: current")

    resume = verbs.add_parser(
        "resume", parents=[common], help="where was I? a backlog item's state, to pick it up"
    )
    resume.add_argument("target", nargs="?", help="backlog id or session id; default: current")

    summary = verbs.add_parser(
        "summarize", parents=[common], help="write the session's summary (.scribe/summaries/)"
    )
    summary.add_argument("target", nargs="?", help="session id or backlog id; default: current")

    search = verbs.add_parser("search", parents=[common], help="full-text search over all entries")
    search.add_argument("query", nargs="+")
    search.add_argument("--limit", type=int, default=20)

    report = verbs.add_parser(
        "report", parents=[common], help="time per backlog item, or a stand-up, from the recorded time"
    )
    report.add_argument("kind", nargs="?", choices=("time", "standup"), default="time")
    days = "YYYY-MM-DD, today, yesterday, week, month or <N>d (N days ago)"
    report.add_argument("--since", help=f"first day: {days}; default 6d (time), yesterday (standup)")
    report.add_argument("--until", help="last day, the same forms; default today")
    report.add_argument("--by", choices=("item", "day", "branch"), help="time: group by (default item)")
    report.add_argument(
        "--format", choices=("table", "json", "csv", "markdown"), help="default table; --json is json"
    )

    importing = verbs.add_parser("import", parents=[common], help="import legacy worklogs and registry")
    importing.add_argument(
        "paths", nargs="*", help="worklog .md, session_registry.json or folders; default: artifacts/"
    )

    daemon = verbs.add_parser("daemon", parents=[common], help="the background recorder: run, status, stop")
    daemon.add_argument(
        "action",
        choices=("run", "status", "stop", "install", "uninstall"),
        help="run it (foreground), ask it, stop it; install/uninstall its systemd or launchd service file",
    )
    daemon.add_argument(
        "--platform", choices=("linux", "macos"), help="install: the service file for this platform"
    )
    daemon.add_argument("--watch", action="append", default=[], metavar="ROOT", help="run: record ROOT too")
    daemon.add_argument("--max-roots", type=int, default=16, help="run: roots recorded at most (default 16)")
    daemon.add_argument(
        "--idle-exit", type=float, default=300.0, metavar="SECONDS",
        help="run: exit after this long without roots (default 300; 0: never)",
    )  # fmt: skip

    mcp = verbs.add_parser(
        "mcp", parents=[common], help="serve MCP on stdio for AI agents; `mcp install` adds it to a client"
    )
    mcp.add_argument("action", nargs="?", choices=("serve", "install"), default="serve")
    mcp.add_argument("--client", choices=("claude", "cursor", "vscode"), help="install: whose project file")
    mcp.add_argument("--print", action="store_true", dest="print_only", help="install: show the snippet only")

    dashboard = verbs.add_parser(
        "dashboard", parents=[common], help="the live web page of this repository's sessions (loopback)"
    )
    dashboard.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    dashboard.add_argument("--open", action="store_true", dest="open_browser", help="open it in a browser")
    dashboard.add_argument(
        "--token",
        help="the page's token (default: $SCRIBE_LS_TOKEN, else a random one); visible to"
        " other local users in /proc: prefer $SCRIBE_LS_TOKEN or --token-file",
    )
    dashboard.add_argument("--token-file", metavar="PATH", help="read the token from PATH (chmod 600)")

    call = verbs.add_parser("call", parents=[common], help="one raw JSON-RPC request, in-process")
    call.add_argument("method", help="e.g. scribe/status")
    call.add_argument("params", nargs="?", default="{}", help="JSON params object")
    return parser, verbs.built


_closed_everything = False


def run() -> NoReturn:
    """The ``scribe-ls`` command. After a store verb, which closed what it opened, the
    process ends without the interpreter's teardown: freeing every loaded module costs
    ~15 ms, more than the verb itself."""
    code = main()
    if not _closed_everything:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader left after the last line: nothing was lost
        code = 141
    except OSError:  # stdout cannot be written: what Python itself exits with
        code = 120
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv and sys.stdin.isatty():
        # A person at a terminal, not an editor: serving JSON-RPC would look like a hang.
        build_parser()[0].print_help(sys.stderr)
        print(
            "\nscribe-ls: no verb given; `scribe-ls serve` is for editors (it speaks JSON-RPC)",
            file=sys.stderr,
        )
        return 2
    try:
        args = parse_args(argv or ["serve"])
        if args.verb is None:
            raise UsageError("which verb? (global options such as --json come with one)")
        if args.store is not None:
            from ..store.layout import STORE_ENV

            # The environment, so a server or helper this run starts uses the same store.
            os.environ[STORE_ENV] = os.path.abspath(args.store)
        if args.verb == "serve":
            return _serve(args)
        if args.verb == "redact":
            return _redact(args)  # reads a file; no store needed
        if args.verb == "daemon":
            return _daemon(args)
        if args.verb == "mcp":
            return _mcp(args)
        if args.verb == "dashboard":
            return _dashboard(args)
        if args.verb in ASYNC_VERBS:
            from . import service_verbs as verbs_async

            try:
                return verbs_async.run(args)
            except verbs_async.BadJson as exc:
                raise UsageError(str(exc)) from None
        from . import store_verbs as verbs

        code = verbs.run(args)
        global _closed_everything
        _closed_everything = True  # the store is closed; nothing runs in the background
        return code
    except UsageError as exc:
        _report(argv, -32602, str(exc))
        return 2
    except ScribeError as exc:
        if _verb_of(argv) == "call":  # raw JSON-RPC: the protocol's names
            if isinstance(exc, InvalidParams):
                exc = on_wire(exc)
            field = exc.data.get("field") if isinstance(exc.data, dict) else None
            _report(argv, exc.code, exc.message, field)
        else:
            _report(argv, exc.code, *cli_terms(exc, _verb_of(argv)))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `scribe-ls list | head -1`: the reader left. Python's advice: point stdout at
        # /dev/null so that the exit does not fail flushing it again, and end quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # the shell's code for a command ended by SIGPIPE


# The core names arguments as Python does and requests as the protocol does; a CLI user
# knows flags and verbs (positional arguments by the name --help shows).
FLAGS = {
    "backlog_id": "--backlog-id",
    "session_id": "--session",
    "title": "--title",
    "tags": "--tag",
    "add_tags": "tags",
    "remove_tags": "tags",
    "type": "--type",
    "priority": "--priority",
    "kind": "--kind",
    "files": "--file",
    "text": "text",
    "query": "query",
    "limit": "--limit",
    "status": "--status",
    "tag": "--tag",
    "max_chars": "--max-chars",
    "sections": "--sections",
    "format": "--format",
    "since": "--since",
    "until": "--until",
    "by": "--by",
    "author": "--author",
}
# Verbs that take the session as their positional argument.
TARGET_VERBS = ("stop", "info", "summarize", "resume")
WIRE_WORDS = {
    "scribe/startSession": "`scribe-ls start`",
    "pass sessionId": "pass --session",
}


def cli_terms(error: ScribeError, verb: str | None) -> tuple[str, str | None]:
    """``error``'s message and field in the CLI's words: flags, not argument names."""
    message = error.message
    field = None
    if isinstance(error, InvalidParams):
        field, message = error.field, error.problem
    elif message.startswith("sessionId: "):
        field, message = "session_id", message.removeprefix("sessionId: ")
    if field is not None:
        name = field.partition("[")[0]
        flag = "target" if name == "session_id" and verb in TARGET_VERBS else FLAGS.get(name, name)
        message, field = f"{flag}: {message}", flag
    for wire, words in WIRE_WORDS.items():
        message = message.replace(wire, words)
    return message, field


def _report(argv: list[str], code: int, message: str, field: str | None = None) -> None:
    """One line on stderr; with ``--json``, that line is ``{"error": {code, message, field}}``."""
    if "--json" in argv:
        import json

        error = {"code": code, "message": message, "field": field}
        print(json.dumps({"error": error}, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"scribe-ls: {message}", file=sys.stderr)


def _daemon(args: argparse.Namespace) -> int:
    from ..daemon import client as control

    if args.action == "run":
        if args.max_roots < 1 or args.idle_exit < 0:
            raise UsageError("--max-roots: at least 1; --idle-exit: at least 0")
        from ..daemon import process

        roots = [os.path.abspath(root) for root in args.watch]
        return process.run(roots, max_roots=args.max_roots, idle_exit=args.idle_exit, quiet=args.quiet)
    if args.action in ("install", "uninstall"):
        from ..daemon import service_files

        service = service_files.for_platform(args.platform)
        if args.action == "install":
            try:
                service_files.install(service)
            except OSError as exc:
                raise ScribeError(-32013, f"daemon install: {exc}") from None
            print(f"wrote {service.path}\nturn it on with: {service.enable}")
        elif service_files.uninstall(service):
            print(f"removed {service.path} (turn it off first: {service.disable})")
        else:
            print(f"nothing to remove: {service.path} is not there")
        return 0
    try:
        answer = control.request(args.action)
    except (FileNotFoundError, ConnectionRefusedError):
        if args.action == "stop":  # stopped already: what was asked for
            if not args.quiet:
                print("no daemon is running")
            return 0
        where = control.socket_path()
        raise ScribeError(-32013, f"no daemon is running (nothing listens on {where})") from None
    except (OSError, control.DaemonError) as exc:
        raise ScribeError(-32013, f"daemon: {exc}") from None
    if args.json:
        import json

        print(json.dumps(answer, indent=2, ensure_ascii=False))
    elif args.action == "stop":
        print("daemon stopping")
    else:
        _print_daemon_status(answer)
    return 0


def _print_daemon_status(status: dict[str, Any]) -> None:
    rss = status["rssBytes"]
    print(
        f"scribe-ls daemon pid {status['pid']} · up {status['uptimeSeconds']:.0f} s · "
        f"{len(status['roots'])}/{status['maxRoots']} roots · "
        f"{(rss or 0) / 1e6:.1f} MB · {status['openFiles']} open files · "
        f"{status['eventsPerSecond']} events/s · queue {status['queue']['pending']}"
    )
    for root in status["roots"]:
        sessions = root["sessions"]
        state = "recording" if root["watcher"]["recorder"] else "waiting for the lease"
        print(f"  {root['root']}  {sessions['active']} active, {sessions['paused']} paused  {state}")
    if status["lastError"]:
        print(f"  last error: {status['lastError']}")


def _serve(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..logs import setup_logging
    from ..store.layout import Layout, find_repo_root

    root = find_repo_root(Path(args.root))
    config = load_config(root)
    setup_logging(Layout(root), config)
    from ..rpc import transports as server

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
        host, port = _host_port("--tcp" if args.tcp else "--ws", args.tcp or args.ws)
        token, made = _token(args.token, args.token_file)
        if made:
            # stderr: the token is for the person starting the server, never the protocol.
            print(f"scribe-ls: token: {token}", file=sys.stderr, flush=True)
        served = [root, *(find_repo_root(Path(extra)) for extra in args.allow_root)]
        if args.tcp:
            return server.serve_tcp(host, port, token=token, max_message_bytes=limit, allowed_roots=served)
        return server.serve_ws(
            host, port, token=token, origins=args.allow_origin, max_message_bytes=limit, allowed_roots=served
        )
    if sys.stdin.isatty():
        print("scribe-ls: serving JSON-RPC on stdin/stdout for an editor; Ctrl-C stops", file=sys.stderr)
    return server.serve_stdio(max_message_bytes=limit)


def _mcp(args: argparse.Namespace) -> int:
    from ..store.layout import find_repo_root

    # Claude Code starts servers in the project's directory and says which it is.
    given = args.root if args.root != "." else os.environ.get("CLAUDE_PROJECT_DIR") or "."
    root = find_repo_root(Path(given))
    if args.action == "install":
        from ..agents import mcp_install

        if args.client is None:
            raise UsageError("mcp install: which client? --client claude, cursor or vscode")
        if args.print_only:
            print(f"# {mcp_install.CLIENTS[args.client].path}")
            print(mcp_install.snippet(args.client), end="")
            return 0
        try:
            path, changed = mcp_install.install(root, args.client)
        except (mcp_install.InstallError, OSError) as exc:
            print(f"scribe-ls: mcp install: {exc}", file=sys.stderr)
            return 1
        print(f"{'added scribe-ls to' if changed else 'already in'} {path}")
        return 0
    import asyncio

    from ..config import load_config
    from ..logs import setup_logging
    from ..store.layout import Layout

    setup_logging(Layout(root), load_config(root))  # stderr and the store's log: stdout is MCP's
    from ..agents.mcp_server import serve

    return asyncio.run(serve(root))


def _dashboard(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..logs import setup_logging
    from ..store.layout import Layout, find_repo_root

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {args.port}")
    root = find_repo_root(Path(args.root))
    config = load_config(root)
    setup_logging(Layout(root), config)
    token, _ = _token(args.token, args.token_file)
    from ..dashboard.serve import serve_dashboard

    def ready(url: str) -> None:
        # The token rides in the fragment: browsers never send it to a server or a log.
        print(f"scribe-ls: dashboard of {root} at {url}", file=sys.stderr, flush=True)

    try:
        return serve_dashboard(
            root,
            port=args.port,
            token=token,
            open_browser=args.open_browser,
            on_ready=ready,
            max_message_bytes=config.max_message_bytes,
        )
    except OSError as exc:  # the port is taken
        print(f"scribe-ls: dashboard: --port {args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _redact(args: argparse.Namespace) -> int:
    import json

    from ..redact import findings, redact

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
        print(json.dumps({"findings": found}, indent=2, ensure_ascii=False))
    elif not found:
        print(f"no secrets found in {args.path}")
    else:
        for item in found:
            print(f"{item['path']}:{item['line']}: {item['shape']}: {item['text']}")
    return 1 if found else 0


def _token(given: str | None, token_file: str | None = None) -> tuple[str, bool]:
    """The token clients of a port must present: ``--token-file``, ``--token``, else
    ``$SCRIBE_LS_TOKEN``, else a random one (then True: the person starting the server must
    be told it)."""
    if token_file is not None:
        return _read_token_file(Path(token_file)), False
    if given:
        # Every local user can read /proc/PID/cmdline: the token is as good as public.
        print(
            "scribe-ls: warning: --token is visible to every local user (/proc/PID/cmdline);"
            " use $SCRIBE_LS_TOKEN or --token-file",
            file=sys.stderr,
        )
        return given, False
    if token := os.environ.get("SCRIBE_LS_TOKEN"):
        return token, False
    import secrets

    return secrets.token_urlsafe(24), True


def _read_token_file(path: Path) -> str:
    """The token in ``path``: a regular file of this user's that no one else can read."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"--token-file: cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"--token-file: {path} is not a regular file")
        if info.st_mode & 0o077 or info.st_uid != os.getuid():
            raise UsageError(
                f"--token-file: {path} can be read by others (mode {stat.S_IMODE(info.st_mode):o});"
                f" chmod 600 {path}"
            )
        token = handle.read(4096).decode("utf-8", "replace").strip()
    if len(token) < 16:
        raise UsageError(f"--token-file: {path} holds {len(token)} characters; a token needs at least 16")
    return token


def _host_port(option: str, value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"{option}: expected [HOST:]PORT, got {value!r}")
    return host or "127.0.0.1", int(port)
