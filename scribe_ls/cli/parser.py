"""The ``scribe-ls`` argument parser: the verbs, their flags, and the flags' names in errors.

A flag that sets an operation's field is made from its declaration
(:mod:`scribe_ls.contract.operations`): its spelling, help, choices, type and limits; the CLI
only says where it differs (a default for a person at a terminal, a session given as a
backlog id). An error from the core names a Python argument; :func:`cli_terms` names the
flag instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from .._version import __version__
from ..contract import operations as ops
from ..contract.fields import INTEGER, STRING, STRINGS, Field
from ..contract.rules import USER_KINDS
from ..errors import InvalidParams, ScribeError


class UsageError(Exception):
    """Bad command-line use: one line on stderr, exit code 2."""


def _terminal_width() -> int:
    """What ``shutil.get_terminal_size`` says (``$COLUMNS``, else stdout's terminal, else
    80), without importing ``shutil``: it brings the compression modules, which cost a verb
    more start-up than anything of ours (bench/RESULTS.md, "CLI start-up")."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            # sys.__stdout__ is None without a stdout at all: AttributeError, then 80.
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 80
    return columns


class _Formatter(argparse.HelpFormatter):
    """argparse's help formatter, its width found as :func:`_terminal_width` does. argparse
    makes one for every argument it is given, so the default one imported ``shutil`` on
    every run, help or not."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        super().__init__(prog, indent_increment, max_help_position, width=_terminal_width() - 2)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


class _Skipped:
    """A verb's parser that is not built: its arguments are not needed for this run."""

    def add_argument(self, *args: Any, **kwargs: Any) -> None:
        pass


class _Verbs:
    """``add_subparsers()``, building only the verb this run uses (building all twenty
    costs start-up: bench/RESULTS.md, "The lean CLI and the reshaped core"); ``--help``
    and mistakes get the full parser."""

    def __init__(self, verbs: Any, only: str | None) -> None:
        self._verbs = verbs
        self._only = only
        self.built: list[str] = []

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if self._only is not None and name != self._only:
            return _Skipped()
        self.built.append(name)
        return self._verbs.add_parser(name, formatter_class=_Formatter, **kwargs)


# argparse looks every message up in gettext's catalogues (a search of the locale
# directories for each string; the same section of bench/RESULTS.md). Python ships no
# argparse translations and ours are English, so the lookup finds nothing: skip it.
argparse._ = str  # type: ignore[attr-defined]  # a private name, replaced on purpose


def parse_args(argv: list[str]) -> argparse.Namespace:
    wanted = verb_of(argv)
    parser, built = build_parser(only=wanted)
    if wanted is not None and wanted not in built:
        parser, _ = build_parser()  # not a verb: the full parser says which ones there are
    return parser.parse_args(argv)


def verb_of(argv: list[str]) -> str | None:
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
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"scribe-ls {__version__}")
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
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
        holder.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            default=default_flag,
            help="a verb at a terminal (dashboard, live) also logs what it does on stderr",
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
    declared(live, ops.START_SESSION.field("backlog_id"))
    declared(live, ops.START_SESSION.field("title"))

    start = verbs.add_parser("start", parents=[common], help="start (or rejoin) a session")
    for name in ("backlog_id", "title", "tags", "type", "priority"):
        declared(start, ops.START_SESSION.field(name))

    stop = verbs.add_parser("stop", parents=[common], help="stop a session (default: the current one)")
    stop.add_argument("target", nargs="?", help="session id or backlog id")

    append = verbs.add_parser("append", parents=[common], help="add a note (or decision, idea, todo)")
    note = ops.APPEND_ENTRY
    declared(append, note.field("text"), nargs="+", help="the text; '-' reads it from stdin")
    declared(append, note.field("kind"), choices=USER_KINDS)  # the recorder's kinds are not a person's
    declared(append, note.field("session_id"), dest="target", help="session id or backlog id")
    declared(append, note.field("files"))
    declared(append, note.field("author"))

    status = verbs.add_parser("status", parents=[common], help="the store, sessions and the current session")
    status.add_argument(
        "--metrics",
        action="store_true",
        help="also the background recorder's live metrics (scribe-ls daemon)",
    )

    listing = verbs.add_parser("list", parents=[common], help="sessions, newest first")
    for name in ("status", "backlog_id", "tag"):
        declared(listing, ops.LIST_SESSIONS.field(name))
    declared(listing, ops.LIST_SESSIONS.field("limit"), default=20)  # a screenful

    for name, action in (("tag", "add"), ("untag", "remove")):
        sub = verbs.add_parser(name, parents=[common], help=f"{action} tags on a session")
        declared(sub, ops.UPDATE_SESSION.field(f"{action}_tags"), nargs="+")
        declared(sub, ops.SESSION_ID, dest="target", help="session id or backlog id")

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
    packet = ops.GET_CONTEXT
    declared(context, packet.field("format"), default="markdown")  # for a person at a terminal
    declared(context, packet.field("max_chars"))
    declared(context, packet.field("max_tokens"))
    sections = packet.field("sections")
    declared(
        context, sections, action=None, default=None, help=f"comma-separated: {','.join(sections.choices)}"
    )
    declared(context, ops.SESSION_ID, dest="target", help="session id or backlog id; default: current")

    resume = verbs.add_parser(
        "resume", parents=[common], help="where was I? a backlog item's state, to pick it up"
    )
    resume.add_argument("target", nargs="?", help="backlog id or session id; default: current")

    summary = verbs.add_parser(
        "summarize", parents=[common], help="write the session's summary (.scribe/summaries/)"
    )
    summary.add_argument("target", nargs="?", help="session id or backlog id; default: current")

    search = verbs.add_parser("search", parents=[common], help="full-text search over all entries")
    declared(search, ops.SEARCH.field("query"), nargs="+")
    declared(search, ops.SEARCH.field("limit"))

    report = verbs.add_parser(
        "report", parents=[common], help="time per backlog item, or a stand-up, from the recorded time"
    )
    for name in ("kind", "since", "until", "by"):
        declared(report, ops.REPORT.field(name), **({"nargs": "?"} if name == "kind" else {}))
    report.add_argument(
        "--format", choices=("table", "json", "csv", "markdown"), help="default table; --json is json"
    )
    report.add_argument(
        "--team",
        action="store_true",
        help="the team's, from the shared logs: time --by teammate; standup: the team stand-up (kind team)",
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

    hooks = verbs.add_parser(
        "hooks",
        parents=[common],
        help="a coding agent's hooks: record its prompts, edits, commands and turns",
    )
    hooks.add_argument("action", choices=("install", "uninstall", "status"))
    hooks.add_argument("--agent", choices=HOOK_AGENTS, default="claude-code", help="default claude-code")
    hooks.add_argument(
        "--scope",
        choices=("project", "user"),
        default="project",
        help="project: the agent's settings in this repository, .claude/ or .gemini/ (default);"
        " user: those in your home directory",
    )
    hooks.add_argument(
        "--print", action="store_true", dest="print_only", help="install: show what would be merged"
    )

    hook = verbs.add_parser(
        "hook", parents=[common], help="what an agent's hook runs (the event's JSON on stdin)"
    )
    hook.add_argument("agent", choices=HOOK_AGENTS)
    hook.add_argument("event", help="the hook event, e.g. PostToolUse")

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

    share = verbs.add_parser(
        "share",
        parents=[common],
        help="share this repository's sessions through its own git remote (off by default)",
    )
    share.add_argument("action", nargs="?", choices=("status", "on", "off"), default="status")
    share.add_argument("--remote", default="origin", help="on: the git remote to share with (default origin)")
    share.add_argument(
        "--dry-run", action="store_true", help="show what the next sync would write, redacted; write nothing"
    )
    verbs.add_parser("sync", parents=[common], help="share now: write, fetch, read the teammates' logs, push")
    team = verbs.add_parser(
        "team", parents=[common], help="who is on which item, from the shared logs (`scribe-ls sync` first)"
    )
    team.add_argument("--item", metavar="B-1234", help="one item's timeline from every machine and teammate")
    team.add_argument("--limit", type=int, default=50, metavar="N", help="--item: the newest N entries (50)")

    call = verbs.add_parser("call", parents=[common], help="one raw JSON-RPC request, in-process")
    call.add_argument("method", help="e.g. scribe/status")
    call.add_argument("params", nargs="?", default="{}", help="JSON params object")
    return parser, verbs.built


def declared(parser: Any, field: Field, **options: Any) -> None:
    """An argument for a declared field: spelled as ``field.cli`` (``--backlog-id``, or a
    positional name), with its help, choices, type and limits; ``options`` are what this
    verb does differently. A repeatable flag collects a list; help is plain text."""
    assert field.cli is not None, f"{field.wire} has no CLI spelling"
    # The help says this verb's choices and default, where it narrows or changes them.
    said = field.but(**{key: options[key] for key in ("choices", "default") if options.get(key) is not None})
    options.setdefault("help", said.describe().replace("`", ""))
    if field.type == INTEGER:
        options.setdefault("type", int)
        options.setdefault("metavar", "N")
        if field.cli.startswith("--"):
            options.setdefault("default", field.default)
    elif field.type == STRING and field.choices:
        options.setdefault("choices", field.choices)
        options.setdefault("default", field.default)
    elif field.type == STRINGS and field.cli.startswith("--"):
        options.setdefault("action", "append")
        options.setdefault("default", [])
    if options.get("action") is None:
        options.pop("action", None)
    if field.cli.startswith("--"):
        options.setdefault("dest", field.name)
    parser.add_argument(field.cli, **options)


# The operation a verb runs: the names in its errors are its flags.
VERB_OPERATIONS: dict[str, ops.Operation] = {
    "live": ops.START_SESSION,
    "start": ops.START_SESSION,
    "stop": ops.STOP_SESSION,
    "append": ops.APPEND_ENTRY,
    "list": ops.LIST_SESSIONS,
    "tag": ops.UPDATE_SESSION,
    "untag": ops.UPDATE_SESSION,
    "info": ops.GET_SESSION,
    "context": ops.GET_CONTEXT,
    "resume": ops.RESUME,
    "summarize": ops.SUMMARIZE,
    "search": ops.SEARCH,
    "report": ops.REPORT,
}
# The flags of verbs that are no declared operation (the store's upkeep), by argument.
UPKEEP_FLAGS = {("compact", "older_than_days"): "--older-than"}
# Verbs that take the session as their positional argument.
TARGET_VERBS = ("stop", "info", "summarize", "resume")
# The agents whose hooks we install and run (agents/hook_install.AGENTS, kept equal by a
# unit test; not imported here, where every CLI start would pay for it).
HOOK_AGENTS = ("claude-code", "gemini")
WIRE_WORDS = {
    "scribe/startSession": "`scribe-ls start`",
    "pass sessionId": "pass --session",
}


def flag_of(name: str, verb: str | None) -> str:
    """What the CLI calls the argument ``name`` (``backlog_id`` -> ``--backlog-id``): the
    verb's operation's spelling, else any operation's, else the name itself."""
    if name == "session_id" and verb in TARGET_VERBS:
        return "target"
    if (flag := UPKEEP_FLAGS.get((verb or "", name))) is not None:
        return flag
    mine = VERB_OPERATIONS.get(verb or "")
    for op in (mine, *ops.OPERATIONS) if mine is not None else ops.OPERATIONS:
        for field in op.fields:
            if field.name == name and field.cli is not None:
                return field.cli
    return name


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
        flag = flag_of(name, verb)
        message, field = f"{flag}: {message}", flag
    for wire, words in WIRE_WORDS.items():
        message = message.replace(wire, words)
    return message, field
