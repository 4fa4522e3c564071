"""The CLI verbs that read or write the store: synchronous, on a :class:`Ledger`.

No event loop, no pygls, no watchfiles: a verb opens the store, makes its one change
through the same ledger the servers use (so the same checks, redaction, transaction,
worklog render and change feed, which running servers relay to their clients) and exits.
Output is text, or with ``--json`` the protocol's JSON shapes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config, load_config
from ..contract.rules import BACKLOG_ID_RE
from ..core.operations import Ledger, Outcome
from ..errors import INVALID_PARAMS, SESSION_NOT_FOUND, STORE_UNAVAILABLE, ScribeError, StoreUnavailable
from ..lazylog import defer_setup, escape_controls, get_logger
from ..model import Session, SessionChange, whole_minutes
from ..store.database import Store
from ..store.layout import Layout, find_repo_root, foreign_repository
from ..store.opening import store_errors
from . import output
from .output import Style, entry_line, print_json, session_line

log = get_logger(__name__)


def run(args: argparse.Namespace) -> int:
    """Open the root's store, run the verb, close."""
    output.style = Style.for_stdout(args)
    root = find_repo_root(Path(args.root))
    if not (root / ".git").exists() and (refused := foreign_repository(root)):
        print(f"scribe-ls: {refused}", file=sys.stderr)  # git refuses it too; say why, once
    layout = Layout(root)  # one, so .scribe/ is checked once per run
    config = load_config(root, layout)
    store = Store(root, origin=f"{os.getpid()}-{os.urandom(3).hex()}", layout=layout)
    defer_setup(lambda: _log_to_file(store.layout, config))
    for warning in config.warnings:
        log.warning("config: %s", warning)
        print(f"scribe-ls: config: {escape_controls(warning)}", file=sys.stderr)
    ledger = Ledger(store, config)
    if args.verb in READ_ONLY and not layout.exists():
        raise no_store_here(root)
    try:
        with store_errors(store.dir):
            try:
                store.open()
            except StoreUnavailable:
                if args.verb != "status":  # status says what is wrong instead of failing
                    raise
            else:
                for notice in store.notices:
                    print(f"scribe-ls: {escape_controls(notice)}", file=sys.stderr)
                layout.keep_out_of_git()
            return VERBS[args.verb](ledger, args)
    finally:
        for key, kept, missing in ledger.worklogs.kept:
            print(
                f"scribe-ls: the worklog of {key} held text the store does not have ({missing}); kept it"
                f" as {kept} and wrote it again from the store",
                file=sys.stderr,
            )
        store.close()


# Verbs that only read: outside a root where something was recorded they say so and
# change nothing (no .scribe/ is made for a question).
READ_ONLY = ("status", "list", "info", "search", "validate", "context", "report")


def no_store_here(root: Path) -> ScribeError:
    return ScribeError(
        STORE_UNAVAILABLE,
        f"nothing recorded in {root} yet (no .scribe/ here; `scribe-ls start` begins a session)",
    )


def _log_to_file(layout: Layout, config: Config) -> None:
    from ..logs import setup_logging

    setup_logging(layout, config, stderr=False)


# -- output -------------------------------------------------------------------------------


def _show_session(args: argparse.Namespace, session: Session, verb: str) -> int:
    if args.json:
        print_json(session.to_wire())
    elif not args.quiet:  # --quiet: a write says nothing when it worked
        print(f"{verb}: {session_line(session)}")
    return 0


def resolve(ledger: Ledger, target: str | None) -> str | None:
    """A session id for ``target``: a session id, a backlog id (its open session, else its
    newest), or None for "the current session"."""
    if target is None:
        return None
    if BACKLOG_ID_RE.fullmatch(target):
        sessions = ledger.list_sessions(backlog_id=target, limit=20)
        open_sessions = [s for s in sessions if s.status != "completed"]
        chosen = (open_sessions or sessions)[:1]
        if not chosen:
            raise ScribeError(SESSION_NOT_FOUND, f"no session for {target}")
        return chosen[0].id
    return target


# -- verbs --------------------------------------------------------------------------------


def _side_changes(args: argparse.Namespace, outcome: Outcome, shown: Session | None = None) -> None:
    """Say on stderr what a verb also did (the session it paused, the branch switch it
    applied), so nothing moves behind the user's back; ``shown`` is what the verb's own
    output is about."""
    if args.json or args.quiet:
        return
    for event in outcome.events:
        if not isinstance(event, SessionChange) or (shown is not None and event.session.id == shown.id):
            continue
        label = event.session.backlog_id or event.session.id
        if event.change == "branchChanged":
            print(f"scribe-ls: {label} follows the branch to {event.session.branch}", file=sys.stderr)
        else:
            print(f"scribe-ls: {event.change} {label}", file=sys.stderr)


def _start(ledger: Ledger, args: argparse.Namespace) -> int:
    outcome = ledger.start_session(args.backlog_id, args.title, args.tags, args.type, args.priority)
    session = outcome.session
    assert session is not None and outcome.change is not None
    _side_changes(args, outcome, session)
    if args.json:
        print_json({**session.to_wire(), "change": outcome.change})
        return 0
    if not args.quiet:
        print(f"{outcome.change}: {session_line(session)}")
    _hand_to_daemon(ledger, args)
    current = ledger.current_session()
    if current is not None and current.id != session.id and not args.quiet:
        # The branch names another item: plain appends go there, say so now.
        print(
            f"scribe-ls: note: the checked-out branch is {current.backlog_id}'s; append, stop and "
            f"info without --session use that session, not {session.backlog_id or session.id}",
            file=sys.stderr,
        )
    return 0


def _hand_to_daemon(ledger: Ledger, args: argparse.Namespace) -> None:
    """Have the background recorder record this root (starting it if none runs), unless
    the config or ``$SCRIBE_LS_DAEMON`` says not to. Its failure is said, not fatal: the
    session is started either way."""
    from ..daemon import client as control

    try:
        handed = control.hand_off(ledger.root, configured=ledger.config.daemon)
        if handed == "started" and not args.quiet and not args.json:
            print("scribe-ls: recording in the background (scribe-ls daemon status)", file=sys.stderr)
    except (OSError, control.DaemonError) as exc:
        # The truth, and what to do: the session is started, but saves are recorded only
        # while an editor's server, `scribe-ls live` or a daemon runs.
        if isinstance(exc, OSError):
            fix = (
                f"the daemon keeps its socket in {control.socket_path().parent}; set XDG_RUNTIME_DIR"
                " to a directory of yours"
            )
        else:
            fix = f"its log: {control.log_path()}"
        print(
            f"scribe-ls: not recording in the background: {exc}\n"
            f"  {fix}; meanwhile `scribe-ls live` or an editor with scribe-ls records this session",
            file=sys.stderr,
        )


def _stop(ledger: Ledger, args: argparse.Namespace) -> int:
    outcome = ledger.stop_session(resolve(ledger, args.target))
    assert outcome.session is not None
    _side_changes(args, outcome, outcome.session)
    return _show_session(args, outcome.session, "stopped")


def _append(ledger: Ledger, args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.text == ["-"] else " ".join(args.text)
    outcome = ledger.append_entry(
        text, args.kind, resolve(ledger, args.target), args.files, author=args.author
    )
    entry = outcome.entry
    assert entry is not None
    _side_changes(args, outcome)
    if args.json:
        print_json(entry.to_wire())
    elif not args.quiet:
        item = outcome.session.backlog_id if outcome.session else None
        print(f"added #{entry.id} ({entry.kind}) to {item or 'session'} ({entry.session_id})")
    return 0


def _status(ledger: Ledger, args: argparse.Namespace) -> int:
    from ..core.status import store_status  # this verb's only

    status = store_status(ledger)
    if args.metrics:
        status["metrics"] = _daemon_metrics()
    if args.json:
        print_json(status)
        return 0
    sessions = status["sessions"]
    print(f"scribe-ls {status['version']}  root {status['root']}")
    print(f"sessions: {sessions['active']} active, {sessions['paused']} paused, {sessions['total']} total")
    if status["storeError"]:
        print(f"scribe-ls: {status['storeError']}", file=sys.stderr)
        return 1
    current = ledger.current_session()
    print(f"current:  {session_line(current) if current else 'none (scribe-ls start)'}")
    sharing = status["sharing"]
    if sharing["on"]:
        last = (sharing["lastSyncAt"] or "never")[:16].replace("T", " ")
        print(f"sharing:  with {sharing['remote']}, last synced {last}")
        if sharing["failures"]:
            print(
                f"          {sharing['failures']} failed tries in a row, backing off: {sharing['lastError']}"
            )
    if args.metrics:
        _print_metrics(status["metrics"])
    return 0


def _daemon_metrics() -> dict[str, Any] | None:
    """The background recorder's metrics (it records, so it measures); None without one."""
    from ..daemon import client as control

    try:
        return control.request("status").get("metrics")
    except (OSError, control.DaemonError):
        return None


def _print_metrics(metrics: dict[str, Any] | None) -> None:
    if metrics is None:
        print("metrics:  no background recorder runs (an editor's server answers scribe/metrics)")
        return

    def timing(name: str, t: dict[str, Any]) -> str:
        if not t["count"]:
            return f"  {name:<22} -"
        return f"  {name:<22} {t['count']:>7}  p50 {t['p50Ms']:>9.3f} ms  p99 {t['p99Ms']:>9.3f} ms"

    print("metrics (the background recorder):")
    print(timing("save -> push", metrics["saveToPush"]))
    print(timing("git calls", metrics["git"]))
    print(timing("store commits", metrics["storeCommit"]))
    for method, t in metrics["requests"].items():
        print(timing(method, t))
    pushes, queues = metrics["pushes"], metrics["queues"]
    print(
        f"  pushes {pushes['sent']} sent, {pushes['merged']} merged, {pushes['dropped']} dropped · "
        f"queues store {queues['store']}, summaries {queues['summaries']} · "
        f"watcher restarts {metrics['watcherRestarts']}"
    )


def _list(ledger: Ledger, args: argparse.Namespace) -> int:
    sessions = ledger.list_sessions(
        status=args.status, backlog_id=args.backlog_id, tag=args.tag, limit=args.limit
    )
    if args.json:
        print_json({"sessions": [s.to_wire() for s in sessions]})
    elif not sessions:
        print("no sessions")
    else:
        for session in sessions:
            print(session_line(session))
    return 0


def _tag(ledger: Ledger, args: argparse.Namespace) -> int:
    session_id = resolve(ledger, args.target) or ledger.session_or_current(None).id
    change = {"add_tags": args.tags} if args.verb == "tag" else {"remove_tags": args.tags}
    outcome = ledger.update_session(session_id, **change)
    assert outcome.session is not None
    return _show_session(args, outcome.session, "tagged" if args.verb == "tag" else "untagged")


def _info(ledger: Ledger, args: argparse.Namespace) -> int:
    session = ledger.session_or_current(resolve(ledger, args.target))
    recent = ledger.recent_entries(session.id, args.entries) if args.entries > 0 else []
    if args.json:
        recent_wire = [e.to_wire() for e in recent]
        print_json(session.to_wire() | {"recentEntries": recent_wire, "worklog": session.worklog_path})
        return 0
    print(session_line(session))
    print(f"  branch {session.branch or '-'}  type {session.type}  priority {session.priority}")
    print(f"  started {session.started_at}  last activity {session.last_activity_at}")
    print(f"  active {whole_minutes(session.stats.active_seconds)} min  worklog {session.worklog_path}")
    for entry in recent:
        print(entry_line(entry))
    return 0


def _cleanup(ledger: Ledger, args: argparse.Namespace) -> int:
    stopped = [outcome.session for outcome in ledger.cleanup() if outcome.session is not None]
    if args.json:
        print_json({"stopped": [s.to_wire() for s in stopped]})
    elif not stopped:
        print("no idle sessions")
    else:
        for session in stopped:
            print(f"stopped: {session_line(session)}")
    return 0


def _validate(ledger: Ledger, args: argparse.Namespace) -> int:
    from .upkeep_verbs import validate  # the upkeep verbs: not on the everyday verbs' start-up

    return validate(ledger, args)


def _compact(ledger: Ledger, args: argparse.Namespace) -> int:
    from .upkeep_verbs import compact_store

    return compact_store(ledger, args)


def _search(ledger: Ledger, args: argparse.Namespace) -> int:
    hits = ledger.search(" ".join(args.query), args.limit)
    if args.json:
        print_json({"hits": [hit.to_wire() for hit in hits]})
    elif not hits:
        print("no matches")
    else:
        for hit in hits:
            label = hit.backlog_id or hit.entry.session_id
            print(f"{label:<8} #{hit.entry.id:<5} {hit.entry.kind:<8} {output.style.highlights(hit.snippet)}")
    return 0


def _report(ledger: Ledger, args: argparse.Namespace) -> int:
    from ..core import reports, team_reports

    fmt = "json" if args.json else args.format or "table"
    kind, by = args.kind, args.by
    if args.team:  # the CLI's word for the team's: time by teammate, the team's stand-up
        if kind in (None, "time"):
            by = by or "teammate"
            if by != "teammate":
                raise ScribeError(INVALID_PARAMS, "--by: with --team a time report is by teammate")
        elif kind == "standup":
            kind = "team"
    if kind in ("standup", "team") and fmt == "csv":
        raise ScribeError(INVALID_PARAMS, "--format: a stand-up is table, json or markdown")
    built = ledger.report(kind, since=args.since, until=args.until, by=by)
    if isinstance(built, reports.TimeReport):
        sys.stdout.write(reports.render_time(built, fmt))
    elif isinstance(built, team_reports.TeamStandup):
        sys.stdout.write(team_reports.render_team_standup(built, fmt))
    else:
        sys.stdout.write(reports.render_standup(built, fmt))
    return 0


def _import(ledger: Ledger, args: argparse.Namespace) -> int:
    from ..worklog.legacy import import_legacy

    for given in args.paths:
        if not Path(given).exists():
            raise ScribeError(INVALID_PARAMS, f"import: no such file or directory: {given}")
    if not args.paths and not (ledger.root / "artifacts").is_dir():
        raise ScribeError(
            STORE_UNAVAILABLE,
            f"import: nothing to import: no artifacts/ in {ledger.root}; name the worklogs,"
            " session_registry.json or folders to import",
        )
    paths = [Path(p) for p in args.paths] or [ledger.root / "artifacts"]
    report = import_legacy(ledger, [p if p.is_absolute() else Path.cwd() / p for p in paths])
    if args.json:
        print_json(report)
        return 0
    for item in report["imported"]:
        print(f"imported {item['backlogId']} as {item['sessionId']} ({item['entries']} entries)")
    for item in report["skipped"]:
        print(f"skipped {item['what']}: {item['why']}")
    if not report["imported"] and not report["skipped"]:
        print("nothing to import")
    return 0


def _team_verb(ledger: Ledger, args: argparse.Namespace) -> int:
    from . import team_verbs  # sharing: not on the everyday verbs' start-up

    return team_verbs.VERBS[args.verb](ledger, args)


VERBS: dict[str, Callable[[Ledger, argparse.Namespace], int]] = {
    "share": _team_verb,
    "sync": _team_verb,
    "team": _team_verb,
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
    "compact": _compact,
    "search": _search,
    "import": _import,
    "report": _report,
}
