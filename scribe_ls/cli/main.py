"""``scribe-ls``: the server entry point and the legacy tool's verbs.

``scribe-ls`` alone (or ``scribe-ls serve``) speaks JSON-RPC on stdio. Every other verb
works in-process on the repository's store and exits; the store is safe to share with
running servers, which tell their clients. The store verbs (``store_verbs.py``) run without an
event loop and import neither asyncio, pygls nor watchfiles, so ``scribe-ls append`` costs
little more than starting Python; ``live``, ``context``, ``summarize`` and ``call``
(``service_verbs.py``) run the async service; ``parser.py`` builds the arguments, from
the operations' declarations where a flag sets a field, and ``serving.py`` starts servers.

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

from ..errors import INVALID_PARAMS, InvalidParams, ScribeError, on_wire
from .parser import UsageError, build_parser, cli_terms, parse_args, verb_of

# Verbs that need the event loop; every other verb runs without one.
ASYNC_VERBS = ("live", "context", "summarize", "call", "resume")


_closed_everything = False


def run() -> NoReturn:
    """The ``scribe-ls`` command. After a store verb, which closed what it opened, the
    process ends without the interpreter's teardown: freeing every loaded module costs
    more than the verb itself (bench/RESULTS.md, "The lean CLI and the reshaped core")."""
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
    global _closed_everything
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
        if args.verb != "hook" and not os.path.isdir(args.root):  # a hook never fails its agent
            raise UsageError(f"--root: no such directory: {args.root}")
        if args.store is not None:
            from ..store.layout import STORE_ENV

            # The environment, so a server or helper this run starts uses the same store.
            os.environ[STORE_ENV] = os.path.abspath(args.store)
        if args.verb == "serve":
            from .serving import serve  # servers only: not on a store verb's start-up

            return serve(args)
        if args.verb == "redact":
            return _redact(args)  # reads a file; no store needed
        if args.verb == "daemon":
            return _daemon(args)
        if args.verb == "mcp":
            return _mcp(args)
        if args.verb in ("hook", "hooks"):
            from . import hook_verbs

            if args.verb == "hooks":
                return hook_verbs.hooks(args)
            code = hook_verbs.run_hook(args)
            # An agent waits on every hook: the lean ones closed what they opened and skip
            # the interpreter's teardown as a store verb does (SessionStart ran a loop).
            _closed_everything = args.event != "SessionStart"
            return code
        if args.verb == "dashboard":
            from .serving import dashboard

            return dashboard(args)
        if args.verb in ASYNC_VERBS:
            from . import service_verbs

            try:
                return service_verbs.run(args)
            except service_verbs.BadJson as exc:
                raise UsageError(str(exc)) from None
        from . import store_verbs

        code = store_verbs.run(args)
        _closed_everything = True  # the store is closed; nothing runs in the background
        return code
    except UsageError as exc:
        _report(argv, -32602, str(exc))
        return 2
    except ScribeError as exc:
        if verb_of(argv) == "call":  # raw JSON-RPC: the protocol's names
            if isinstance(exc, InvalidParams):
                exc = on_wire(exc)
            field = exc.data.get("field") if isinstance(exc.data, dict) else None
            _report(argv, exc.code, exc.message, field)
        else:
            _report(argv, exc.code, *cli_terms(exc, verb_of(argv)))
            if exc.code == INVALID_PARAMS:
                return 2  # a flag's or an argument's value: bad usage, as the README says
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `scribe-ls list | head -1`: the reader left. Python's advice: point stdout at
        # /dev/null so that the exit does not fail flushing it again, and end quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # the shell's code for a command ended by SIGPIPE


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
            # Said after the removal, so what it says still works without the file.
            print(f"removed {service.path}; if it was running, stop it with: {service.stop_removed}")
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


# The MCP SDK (37 packages, ~39 MB) is an extra: the CLI, the language server and the
# recorder never load it (bench/startup.py: the environment without it is half the size).
MCP_EXTRA = "python -m pip install 'scribe-ls[mcp]'"


def _mcp_sdk() -> bool:
    """Whether the MCP SDK is installed (``mcp`` and its types): found, not imported, for
    importing it is most of ``scribe-ls mcp``'s start, which it defers."""
    from importlib.util import find_spec

    try:
        return all(find_spec(name) is not None for name in ("mcp", "mcp_types"))
    except ImportError:  # a finder that says so outright
        return False


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
        if not _mcp_sdk():
            print(f"scribe-ls: the server it names needs the MCP SDK: {MCP_EXTRA}", file=sys.stderr)
        return 0
    if not _mcp_sdk():
        print(f"scribe-ls: mcp needs the MCP SDK, an extra: {MCP_EXTRA}", file=sys.stderr)
        return 1
    import asyncio

    from ..config import load_config
    from ..logs import setup_logging
    from ..store.layout import Layout

    setup_logging(Layout(root), load_config(root))  # stderr and the store's log: stdout is MCP's
    from ..agents.mcp_handshake import serve  # the SDK is loaded once initialize is answered

    return asyncio.run(serve(root))


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
