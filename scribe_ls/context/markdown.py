"""A context packet as Markdown, for a person or an LLM prompt.

Every value that came from the repository or its notes goes through :mod:`.quoting`
(``inline`` on a line of ours, ``fenced`` for a diff hunk), and the packet says under its
title which parts are such data; the headings, bullets and tables are only ever ours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model import Session
from .quoting import DATA_NOTICE, fenced, inline
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


def section_markdown(name: str, section: dict[str, Any]) -> str:
    """One section's Markdown, as the packet shows it."""
    if not section.get("ok"):
        return f"## {name.title()}\n\n_unavailable: {inline(section.get('error'))}_\n"
    return _MARKDOWN[name](section["data"])


def markdown_text(session: Session | None, sections: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    title = f"{session.backlog_id or session.id}: {inline(session.title)}" if session else None
    parts.append(f"# Context — {title or 'no current session'}\n")
    parts.append(DATA_NOTICE)
    parts += [section_markdown(name, section) for name, section in sections.items()]
    return "\n".join(p for p in parts if p)


def _md_session(data: Any) -> str:
    if not data:
        return "## Session\n\nNo current session.\n"
    stats = data["stats"]
    tags = f", tags {inline(', '.join(data['tags']))}" if data["tags"] else ""
    branch = inline(data["branch"] or "-")
    return (
        f"## Session\n\n{data['backlogId'] or '-'} · {data['status']} · branch {branch}"
        f" · {stats['activeSeconds'] // 60} min active · {stats['entries']} entries · "
        f"{stats['filesChanged']} files{tags}\n"
    )


def _md_git(data: Any) -> str:
    head = (data["head"] or "no commits")[:10]
    ahead_behind = f"+{data['ahead']}/-{data['behind']}"
    upstream = f", upstream {inline(data['upstream'])} {ahead_behind}" if data["upstream"] else ""
    branch = inline(data["branch"]) if data["branch"] else "(detached)"
    lines = [f"## Git\n\n{branch} @ {inline(head)}{upstream}; {data['changedFiles']} changed\n"]
    lines += [f"- {f['status']}: {inline(f['path'])}" for f in data["files"]]
    return "\n".join(lines) + "\n"


def _md_diff(data: Any) -> str:
    lines = ["## Diff\n", "| file | + | - |", "| --- | --- | --- |"]
    for f in data["files"]:
        added = "new" if f.get("untracked") else ("bin" if f["added"] is None else f["added"])
        deleted = "" if f.get("untracked") else ("bin" if f["deleted"] is None else f["deleted"])
        lines.append(f"| {inline(f['path'])} | {added} | {deleted} |")
    for hunk in data["hunks"]:
        lines += ["", f"{inline(hunk['path'])}:", fenced(hunk["text"], "diff")]
    if data["omitted"]:
        lines += ["", f"Hunks left out to fit: {inline(', '.join(data['omitted']))}"]
    return "\n".join(lines) + "\n"


def _md_commits(data: Any) -> str:
    if not data:
        return "## Recent commits\n\nNone.\n"
    lines = ["## Recent commits\n"] + [
        f"- {inline(c['sha'][:7])} {inline(c['subject'])} ({inline(c['author'])}, {inline(c['at'][:10])})"
        for c in data
    ]
    return "\n".join(lines) + "\n"


def _md_worklog(data: Any) -> str:
    if not data:
        return "## Worklog\n\nNo entries.\n"
    lines = ["## Worklog\n"]
    for e in data:
        by = f" (by {inline(e['author'])})" if e.get("author") else ""
        lines.append(f"- #{e['id']} {e['at'][11:16]} {e['kind']}{by}: {inline(e['text'])}")
    return "\n".join(lines) + "\n"


def _md_summary(data: Any) -> str:
    if not data:
        return "## Summary\n\nNo session.\n"
    lines = [f"## Summary\n\n{data['entries']} entries, {data['filesChanged']} files changed"]
    for label, key in (("Decisions", "decisions"), ("Ideas", "ideas"), ("Open todos", "todos")):
        if data[key]:
            lines.append(f"\n{label}:")
            lines += [f"- {inline(t)}" for t in data[key]]
    return "\n".join(lines) + "\n"


def _md_sessions(data: Any) -> str:
    if not data:
        return "## Other active sessions\n\nNone.\n"
    lines = ["## Other active sessions\n"]
    for s in data:
        shared = f" — also touched: {inline(', '.join(s['sharedFiles'][:10]))}" if s["sharedFiles"] else ""
        worktree = f", worktree {inline(s['root'])}" if s.get("linkedWorktree") else ""
        where = f"branch {inline(s['branch'] or '-')}{worktree}"
        lines.append(f"- {s['backlogId'] or s['id']} ({inline(s['title'])}, {where}){shared}")
    return "\n".join(lines) + "\n"


_MARKDOWN: dict[str, Callable[[Any], str]] = {
    "session": _md_session,
    "git": _md_git,
    "diff": _md_diff,
    "commits": _md_commits,
    "worklog": _md_worklog,
    "summary": _md_summary,
    "sessions": _md_sessions,
}
