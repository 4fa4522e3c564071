"""``scribe/resume``: where a backlog item's work stands, to pick it up (its last
decisions and open todos, work in progress, uncommitted changes, files touched last, time
since the last activity, the last summary), as data and as Markdown for a person or a
prompt."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParams
from ..model import Entry, parse_iso, utc_now, whole_minutes
from .summarize import extract_summary

if TYPE_CHECKING:
    from .ports import ServicePort

# A resume packet's lists: the newest this many of each; files touched; summary excerpt.
RESUME_ITEMS = 10
RESUME_FILES = 20
RESUME_SUMMARY_CHARS = 2000


async def resume_packet(
    scribe: ServicePort, backlog_id: str | None, session_id: str | None
) -> dict[str, Any]:
    """What ``scribe/resume`` answers: where a backlog item's work stands, to pick it up
    (default: the current session; ``backlog_id``: that item's latest session). Last
    decisions, open todos, the work tree's uncommitted changes (when the item is the
    one checked out), the files touched last, how long since the last activity and
    the last summary written, with a Markdown rendering of it all. The arguments are
    checked (RESUME.check)."""
    if backlog_id is not None and session_id is None:
        found = await scribe.list_sessions(backlog_id=backlog_id, limit=1)
        if not found:
            raise InvalidParams("backlog_id", f"no session for {backlog_id}")
        session = found[0]
    else:
        session = await scribe.session_or_current(session_id)
    key = session.worklog_key
    sessions, entries = await scribe.store.sessions_and_entries(key)
    # All of an item's entries (as for summarize): a worker thread's work, not the loop's.
    summary = await asyncio.to_thread(extract_summary, key, sessions, entries, None)
    touched: dict[str, None] = {}
    for entry in reversed(entries):
        for path in entry.files:
            touched.setdefault(path, None)
        if len(touched) >= RESUME_FILES:
            break
    current = await scribe.current_session()
    uncommitted = branch = None
    if current is not None and current.id == session.id:  # the work tree is this item's
        packet = await scribe.context(session.id, sections=["diff"], max_chars=1_000_000)
        diff = packet["sections"]["diff"]
        if diff["ok"]:
            # With a base the diff is the branch's whole work: what is committed there is
            # the branch's, not uncommitted.
            files = [
                {k: f[k] for k in ("path", "added", "deleted", "state") if k in f}
                for f in diff["data"]["files"]
            ]
            uncommitted = [f for f in files if f.get("state") != "committed"]
            if "since" in diff:
                branch = {"since": diff["since"], "files": files}
    layout = scribe.store.layout
    summary_text = await asyncio.to_thread(layout.read_text, layout.summary_path(key))
    idle = max(0.0, (utc_now() - parse_iso(session.last_activity_at)).total_seconds())
    marks = await _changed_marks(scribe, entries) if uncommitted is not None else {}
    result: dict[str, Any] = {
        "session": session.to_wire(),
        "decisions": [_marked(text, marks) for text in summary.decisions[-RESUME_ITEMS:]],
        "openTodos": [_marked(text, marks) for text in summary.next_steps[-RESUME_ITEMS:]],
        "completed": list(summary.completed[-RESUME_ITEMS:]),
        "inProgress": list(summary.in_progress[-RESUME_ITEMS:]),
        "uncommitted": uncommitted,
        "branch": branch,
        "lastFiles": list(touched)[:RESUME_FILES],
        "secondsSinceActivity": int(idle),
        "lastSummary": (
            {"path": str(layout.summary_path(key)), "text": summary_text[:RESUME_SUMMARY_CHARS]}
            if summary_text
            else None
        ),
    }
    result["markdown"] = _resume_markdown(result)
    return result


async def _changed_marks(scribe: ServicePort, entries: Sequence[Entry]) -> dict[str, list[str]]:
    """Decisions' and todos' texts, with the files they name that changed since."""
    from ..context.changed_since import CLAIMS, files_changed_since

    claims = [e for e in entries if e.kind in CLAIMS][-4 * RESUME_ITEMS :]
    changed = await files_changed_since(scribe.root, claims)
    return {e.text: changed[e.id] for e in claims if e.id in changed}


def _ago(seconds: float) -> str:
    minutes = whole_minutes(seconds)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} days"


def _marked(text: str, marks: dict[str, list[str]]) -> str:
    """A decision or todo as resume lists it, saying which of its files changed since."""
    changed = marks.get(text)
    return f"{text} (files changed since: {', '.join(changed)})" if changed else text


def _counts(f: dict[str, Any]) -> str:
    if "added" not in f:
        return " (untracked)"
    return " (binary)" if f["added"] is None else f" (+{f['added']}/-{f['deleted']})"


def _resume_markdown(packet: dict[str, Any]) -> str:
    """A resume packet for a person or a prompt; what came from the repository and its notes
    is quoted (:mod:`scribe_ls.markdown`) and said to be data."""
    from ..markdown import DATA_NOTICE, bullets, inline

    session = packet["session"]
    title = session["backlogId"] or session["id"]
    lines = [
        f"# Resume {title}: {inline(session['title'])}",
        "",
        DATA_NOTICE,
        f"{session['status']} · branch {inline(session['branch'] or '-')} · last activity"
        f" {_ago(packet['secondsSinceActivity'])} ago · {session['stats']['entries']} entries",
    ]
    for heading, items in (
        ("Decisions", packet["decisions"]),
        ("Open todos", packet["openTodos"]),
        ("In progress", packet["inProgress"]),
        ("Completed", packet["completed"]),
    ):
        if items:
            lines += ["", f"## {heading}", "", *bullets(inline(item) for item in items)]
    if packet["uncommitted"]:
        lines += ["", "## Uncommitted", ""]
        lines += bullets(f"{inline(f['path'])}{_counts(f)}" for f in packet["uncommitted"])
    if packet.get("branch"):
        committed = [f for f in packet["branch"]["files"] if f.get("state", "").startswith("committed")]
        if committed:
            lines += ["", f"## Committed on this branch since {inline(packet['branch']['since'])}", ""]
            lines += bullets(f"{inline(f['path'])}{_counts(f)}" for f in committed)
    if packet["lastFiles"]:
        lines += ["", "## Files touched last", "", *bullets(inline(path) for path in packet["lastFiles"])]
    if packet["lastSummary"]:
        lines += ["", f"Last summary: {inline(packet['lastSummary']['path'])}"]
    return "\n".join(lines) + "\n"
