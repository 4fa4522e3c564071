"""A context packet as Markdown, for a person or an LLM prompt.

Every value that came from the repository or its notes goes through :mod:`scribe_ls.markdown`
(``inline`` on a line of ours, ``fenced`` for a diff hunk), and the packet says under its
title which parts are such data; the headings, bullets and tables are only ever ours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..markdown import DATA_NOTICE, fenced, inline
from ..model import Session, whole_minutes
from .tokens import estimate_tokens

TRUNCATED = "\n…[truncated to fit maxChars]\n"


def render_markdown(
    session: Session | None,
    sections: dict[str, dict[str, Any]],
    max_chars: int,
    max_tokens: int | None = None,
) -> tuple[str, bool]:
    """A packet for a person or an LLM, never longer than ``max_chars`` (nor, when given,
    ``max_tokens`` as estimated); True if cut."""
    text = markdown_text(session, sections)
    over_tokens = max_tokens is not None and estimate_tokens(text) > max_tokens
    if len(text) <= max_chars and not over_tokens:
        return text, False
    keep = max(0, max_chars - len(TRUNCATED))
    cut = text[:keep]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    while max_tokens is not None and "\n" in cut and estimate_tokens(cut + TRUNCATED) > max_tokens:
        # Whole lines off the end, about as many as the excess says, then measure again.
        excess = estimate_tokens(cut + TRUNCATED) - max_tokens
        cut = cut[: max(0, len(cut) - max(excess * 3, 1))]
        cut = cut[: cut.rindex("\n")] if "\n" in cut else ""
    return (cut + TRUNCATED)[:max_chars], True


# One heading per section, whatever its state: a reader (or a diff of two packets) can rely
# on them.
HEADINGS = {
    "session": "Session",
    "git": "Git",
    "diff": "Diff",
    "commits": "Commits",
    "worklog": "Worklog",
    "summary": "Summary",
    "sessions": "Other open sessions",
}
LEFT_OUT = "left out to fit the budget"


def section_markdown(name: str, section: dict[str, Any], session: Session | None = None) -> str:
    """One section's Markdown, as the packet shows it: "" for a section with nothing to say
    (it is left out rather than shown empty), what was left out when the budget cut it."""
    heading = f"## {HEADINGS[name]}\n\n"
    if not section.get("ok"):
        return f"{heading}_{inline(section.get('error'))}_\n"
    body = _MARKDOWN[name](section, session)
    return f"{heading}{body}" if body else ""


def markdown_text(session: Session | None, sections: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    if session is None:
        title = "no current session"
    elif session.title.strip() in ("", session.backlog_id):
        title = session.backlog_id or session.id  # no "B-2001: B-2001"
    else:
        title = f"{session.backlog_id or session.id}: {inline(session.title)}"
    parts.append(f"# Context — {title}\n")
    parts.append(DATA_NOTICE)
    parts += [section_markdown(name, section, session) for name, section in sections.items()]
    return "\n".join(p for p in parts if p)


def _more(left_out: int, what: str) -> list[str]:
    return ["", f"{left_out} more {what} {LEFT_OUT}."] if left_out else []


def _md_session(section: dict[str, Any], session: Session | None) -> str:
    data = section["data"]
    if not data:
        return ""  # the title says there is no current session
    stats = data["stats"]
    tags = f", tags {inline(', '.join(data['tags']))}" if data["tags"] else ""
    branch = inline(data["branch"] or "-")
    line = (
        f"{data['backlogId'] or '-'} · {data['status']} · branch {branch}"
        f" · {whole_minutes(stats['activeSeconds'])} min active · {stats['entries']} entries · "
        f"{stats['filesChanged']} files{tags}\n"
    )
    turn = data.get("lastAgentTurn")
    if not turn:
        return line
    asked = f" asked {inline(turn['prompt'])}" if turn["prompt"] else ""
    did = "; ".join(inline(step) for step in turn["did"]) or "nothing recorded yet"
    more = f" (and {turn['stepsLeftOut']} steps before)" if turn["stepsLeftOut"] else ""
    state = "ended" if turn["ended"] else "under way"
    return line + (
        f"\nLast agent turn ({inline(turn['author'])}, {turn['at'][11:16]} UTC, {state}):{asked}"
        f" → {did}{more}\n"
    )


def _md_git(section: dict[str, Any], session: Session | None) -> str:
    data, left_out = section["data"], section.get("leftOut", 0)
    head = (data["head"] or "no commits")[:10]
    ahead_behind = f"+{data['ahead']}/-{data['behind']}"
    upstream = f", upstream {inline(data['upstream'])} {ahead_behind}" if data["upstream"] else ""
    branch = inline(data["branch"]) if data["branch"] else "(detached)"
    changed = f"{data['changedFiles']} changed" if data["changedFiles"] else "nothing changed"
    lines = [f"{branch} @ {inline(head)}{upstream}; {changed}"]
    if base := data.get("base"):
        moved = f"; {inline(base['name'])} has {base['behind']} more since" if base["behind"] else ""
        lines.append(
            f"Left {inline(base['name'])} at {inline(base['mergeBase'][:7])}: "
            f"{base['ahead']} commits on this branch{moved}."
        )
    if data["files"]:
        lines.append("")
    lines += [f"- {f['status']}: {inline(f['path'])}" for f in data["files"]]
    listed = len(data["files"]) + left_out
    lines += _more(left_out + max(0, data["changedFiles"] - listed), "files")
    return "\n".join(lines) + "\n"


def _md_diff(section: dict[str, Any], session: Session | None) -> str:
    data, left_out = section["data"], section.get("leftOut", 0)
    if not data["files"] and not left_out:
        return ""  # nothing differs
    since = section.get("since")
    lines = [f"Since {inline(since)} (where the branch left it), committed and not:", ""] if since else []
    # "by" once an agent changed files of the item: who did (person, an agent), as recorded.
    by = any("by" in f for f in data["files"])
    lines += [
        "| file | + | - | state |" + (" by |" if by else ""),
        "| --- | --- | --- | --- |" + (" --- |" if by else ""),
    ]
    for f in data["files"]:
        added = "new" if f.get("untracked") else ("bin" if f["added"] is None else f["added"])
        deleted = "" if f.get("untracked") else ("bin" if f["deleted"] is None else f["deleted"])
        state = "untracked" if f.get("untracked") else f.get("state", "uncommitted")
        names = f.get("by")  # [] nobody was seen changing it; None: not looked up
        who = "" if not by else " |" if names is None else f" {inline(', '.join(names)) or 'not seen'} |"
        lines.append(f"| {inline(f['path'])} | {added} | {deleted} | {state} |{who}")
    lines += _more(left_out, "changed files")
    for hunk in data["hunks"]:
        lines += ["", f"{inline(hunk['path'])}:", fenced(hunk["text"], "diff")]
    if data["omitted"]:
        lines += ["", f"Hunks {LEFT_OUT}: {inline(', '.join(data['omitted']))}"]
    return "\n".join(lines) + "\n"


def _md_commits(section: dict[str, Any], session: Session | None) -> str:
    data, left_out = section["data"], section.get("leftOut", 0)
    since, total = section.get("since"), section.get("total", len(data) + left_out)
    if not data and not left_out and not total:
        return ""
    lines = [f"{total} on this branch since it left {inline(since)}:", ""] if since else []
    lines += [
        f"- {inline(c['sha'][:7])} {inline(c['subject'])} ({inline(c['author'])}, {inline(c['at'][:10])})"
        for c in data
    ]
    lines += _more(left_out, "commits")
    beyond = total - len(data) - left_out  # past the newest the packet reads
    lines += ["", f"{beyond} older commits on this branch not listed."] if beyond > 0 else []
    return "\n".join(lines).lstrip("\n") + "\n"


def _md_worklog(section: dict[str, Any], session: Session | None) -> str:
    data, left_out = section["data"], section.get("leftOut", 0)
    total = session.stats.entries if session is not None else len(data) + left_out
    if not data and not total:
        return ""
    lines = []
    for e in data:
        by = f" (by {inline(e['author'])})" if e.get("author") else ""
        since = (
            f" — files changed since: {inline(', '.join(e['changedSince']))}" if e.get("changedSince") else ""
        )
        lines.append(f"- #{e['id']} {e['at'][11:16]} {e['kind']}{by}: {inline(e['text'])}{since}")
    beyond = max(0, total - len(data) - left_out)  # older than the newest the packet reads
    if left_out or beyond:
        said = [f"{total} entries, the newest {len(data)} shown"]
        said += [f"{left_out} more {LEFT_OUT}"] if left_out else []
        said += [f"{beyond} older in the worklog"] if beyond else []
        lines += ["", "; ".join(said) + "."]
    return "\n".join(lines).lstrip("\n") + "\n"


def _md_summary(section: dict[str, Any], session: Session | None) -> str:
    data = section["data"]
    if not data:
        return ""
    lines = [f"{data['entries']} entries, {data['filesChanged']} files changed"]
    for label, key in (("Decisions", "decisions"), ("Ideas", "ideas"), ("Open todos", "todos")):
        if data[key]:
            lines.append(f"\n{label}:")
            lines += [f"- {inline(t)}" for t in data[key]]
    return "\n".join(lines) + "\n"


def _md_sessions(section: dict[str, Any], session: Session | None) -> str:
    data, left_out = section["data"], section.get("leftOut", 0)
    if not data and not left_out:
        return ""
    lines = []
    for s in data:
        shared = f" — also touched: {inline(', '.join(s['sharedFiles'][:10]))}" if s["sharedFiles"] else ""
        worktree = f", worktree {inline(s['root'])}" if s.get("linkedWorktree") else ""
        status = f"{s['status']}, " if s.get("status") else ""
        teammate = f", teammate {inline(s['teammate'])}" if s.get("teammate") else ""
        where = f"{status}branch {inline(s['branch'] or '-')}{worktree}{teammate}"
        lines.append(f"- {s['backlogId'] or s['id']} ({inline(s['title'])}, {where}){shared}")
    lines += _more(left_out, "sessions")
    return "\n".join(lines).lstrip("\n") + "\n"


_MARKDOWN: dict[str, Callable[[dict[str, Any], Session | None], str]] = {
    "session": _md_session,
    "git": _md_git,
    "diff": _md_diff,
    "commits": _md_commits,
    "worklog": _md_worklog,
    "summary": _md_summary,
    "sessions": _md_sessions,
}
