"""Session summaries (``scribe/summarize``): what a backlog item's sessions amount to.

A summary is derived, like the worklog, from the store: every session that shares the
worklog key (the backlog id, else the session id) and all their entries. It is extracted,
not generated: decisions and ideas are entries of those kinds; completed work is commits
and notes that say they are done; work in progress is notes that say so plus what the work
tree holds uncommitted now; next steps are todos not marked done. No model and no network:
the same store gives the same summary.

The file goes to ``.scribe/summaries/<key>-summary.md`` in the legacy summary layout (its
HTML comment header, title, counts, "Files Modified", "Graph Integration") with the
extracted lists as extra sections.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..model import Entry, Session, clip

SUMMARY_DIR = "summaries"
MAX_ITEMS = 50  # per list in the result and the file; the newest are kept
MAX_FILES = 500
MAX_ITEM_CHARS = 500

# Leading words that mark a note or todo as finished, under way, or a next step.
_DONE_RE = re.compile(r"^\s*(?:\[x\]|done\b|fixed\b|completed?\b|finished\b|shipped\b|merged\b)[:\s-]*", re.I)
_WIP_RE = re.compile(r"^\s*(?:wip\b|in progress\b|working on\b|started\b)[:\s-]*", re.I)
_NEXT_RE = re.compile(r"^\s*(?:next\b|todo\b|\[ \])[:\s-]*", re.I)
_LEGACY_TIME = "%Y-%m-%d %H:%M:%S"
# The legacy tool's own reports of finished work, and how each lists its files.
_LEGACY_DONE = {"Recent work completed: ": ", ", "Backlog files committed: ": " "}
_MORE_RE = re.compile(r"\s*\(\+\d+ more\)$")


def legacy_done(text: str) -> tuple[str, ...] | None:
    """The files of a legacy "Recent work completed: a, b (+3 more)" or "Backlog files
    committed: a b" note; None for any other text."""
    for prefix, separator in _LEGACY_DONE.items():
        if text.startswith(prefix):
            listed = _MORE_RE.sub("", text.removeprefix(prefix))
            return tuple(path.strip() for path in listed.split(separator) if path.strip())
    return None


@dataclass(frozen=True, slots=True)
class Summary:
    key: str
    sessions: tuple[Session, ...]
    ideas: tuple[str, ...]
    decisions: tuple[str, ...]
    completed: tuple[str, ...]
    in_progress: tuple[str, ...]
    next_steps: tuple[str, ...]
    files: tuple[str, ...]
    entry_count: int
    generated_at: datetime

    def to_wire(self, session_id: str, path: str, markdown: str) -> dict[str, Any]:
        return {
            "sessionId": session_id,
            "path": path,
            "markdown": markdown,
            "ideas": list(self.ideas),
            "decisions": list(self.decisions),
            "completed": list(self.completed),
            "inProgress": list(self.in_progress),
            "nextSteps": list(self.next_steps),
            "files": list(self.files),
        }


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0].strip()
    return clip(line, MAX_ITEM_CHARS)


def _same(text: str) -> str:
    """What two mentions of one task share: case, spacing and end punctuation aside."""
    return " ".join(text.lower().split()).rstrip(".!")


def _newest(items: list[str]) -> tuple[str, ...]:
    """At most MAX_ITEMS, the newest, without repeats, in the order they happened."""
    seen: dict[str, None] = {}
    for item in reversed(items):
        if item and item not in seen:
            seen[item] = None
        if len(seen) == MAX_ITEMS:
            break
    return tuple(reversed(seen))


def extract_summary(
    key: str,
    sessions: Sequence[Session],
    entries: Sequence[Entry],
    uncommitted: Sequence[str] | None,
    now: datetime | None = None,
) -> Summary:
    """Extract the summary of ``key`` from its sessions and their entries (oldest first).

    ``uncommitted`` lists the work tree's changed paths now (None: unknown, e.g. not a git
    repository, or not this item's: it is not the checked-out one); it becomes one line of
    work in progress."""
    ideas: list[str] = []
    decisions: list[str] = []
    completed: list[str] = []
    in_progress: list[str] = []
    next_steps: list[str] = []
    files: dict[str, None] = {}
    for entry in entries:
        for path in entry.files:
            files.setdefault(path, None)
        text = _first_line(entry.text)
        if entry.kind == "idea":
            ideas.append(text)
        elif entry.kind == "decision":
            decisions.append(text)
        elif entry.kind == "commit":
            completed.append(text)
        elif entry.kind == "note" and (reported := legacy_done(entry.text.split("\n", 1)[0])) is not None:
            completed.append(text)
            for path in reported:
                files.setdefault(path, None)
        elif entry.kind in ("note", "todo"):
            if done := _DONE_RE.match(text):
                completed.append(text[done.end() :] or text)
            elif entry.kind == "todo":
                next_steps.append((_NEXT_RE.sub("", text, count=1)) or text)
            elif wip := _WIP_RE.match(text):
                in_progress.append(text[wip.end() :] or text)
            elif step := _NEXT_RE.match(text):
                next_steps.append(text[step.end() :] or text)
    # A step that was later reported done is no longer a next step.
    reported_done = {_same(item) for item in completed}
    next_steps = [step for step in next_steps if _same(step) not in reported_done]
    if uncommitted:
        shown = ", ".join(uncommitted[:5]) + (
            f" (+{len(uncommitted) - 5} more)" if len(uncommitted) > 5 else ""
        )
        in_progress.append(f"{len(uncommitted)} uncommitted file(s): {shown}")
    return Summary(
        key=key,
        sessions=tuple(sessions),
        ideas=_newest(ideas),
        decisions=_newest(decisions),
        completed=_newest(completed),
        in_progress=_newest(in_progress),
        next_steps=_newest(next_steps),
        files=tuple(sorted(files))[:MAX_FILES],
        entry_count=len(entries),
        generated_at=now or datetime.now(UTC),
    )


def _legacy_time(value: str | None) -> str:
    """``2025-08-22T22:38:22Z`` -> ``2025-08-22 22:38:22`` (the legacy files' spelling)."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).strftime(_LEGACY_TIME)
    except ValueError:
        return value


def render_summary(summary: Summary, worklog_path: str, summary_path: str) -> str:
    """The summary file: the legacy layout, then the extracted lists (empty ones left out)."""
    from ..markdown import bullets, code_span, inline

    latest = summary.sessions[-1] if summary.sessions else None
    branch = inline(latest.branch if latest and latest.branch else "")
    last_activity = _legacy_time(max((s.last_activity_at for s in summary.sessions), default=None))
    stamp = summary.generated_at.astimezone(UTC)
    created = stamp.strftime("%Y-%m-%dT%H:%M:%S.%f")
    lines = [
        "",
        "",
        "<!-- DSPY_ROLE: implementer -->",
        "<!-- DSPY_AUTHORITY: scribe_session_insights -->",
        f"<!-- DSPY_FILES: {worklog_path}, {summary_path} -->",
        "<!-- DSPY_CONTEXT: Summary of a scribe-ls session, extracted from its worklog entries -->",
        "<!-- DSPY_VALIDATION: session_analysis, decision_tracking, implementation_progress -->",
        "<!-- DSPY_RESPONSIBILITIES: context_capture, insight_extraction, progress_tracking -->",
        "<!-- GRAPH_NODE_TYPE: scribe_summary -->",
        "<!-- GRAPH_CATEGORY: session_insights -->",
        "<!-- GRAPH_WEIGHT: 0 -->",
        f"<!-- CREATED_AT: {created} -->",
        f"<!-- UPDATED_AT: {created} -->",
        f"<!-- SESSION_COUNT: {len(summary.sessions)} -->",
        f"<!-- IDEAS_COUNT: {len(summary.ideas)} -->",
        f"<!-- DECISIONS_COUNT: {len(summary.decisions)} -->",
        f"<!-- BRANCH: {branch.replace('--', '-&#45;')} -->",
        f"<!-- LAST_ACTIVITY: {last_activity} -->",
        "",
        f"# {summary.key} Session Summary",
        "",
        f"**Generated**: {stamp.strftime(_LEGACY_TIME)}",
        f"**Last Updated**: {stamp.strftime(_LEGACY_TIME)}",
        "",
        f"**Sessions**: {len(summary.sessions)}",
        f"**Branch**: {branch}",
        f"**Last Activity**: {last_activity}",
        f"**Total Lines**: {summary.entry_count}",
        f"**Ideas Generated**: {len(summary.ideas)}",
        f"**Decisions Made**: {len(summary.decisions)}",
        f"**Files Modified**: {len(summary.files)}",
    ]
    for title, items in (
        ("Decisions", summary.decisions),
        ("Ideas", summary.ideas),
        ("Completed", summary.completed),
        ("In Progress", summary.in_progress),
        ("Next Steps", summary.next_steps),
    ):
        if items:
            lines += ["", f"## {title}", *bullets(inline(item) for item in items)]
    if summary.files:
        lines += ["", "## Files Modified", *bullets(code_span(path) for path in summary.files)]
    lines += [
        "",
        "## Graph Integration",
        "- **Node Type**: scribe_summary",
        "- **Category**: session_insights",
        "- **Weight**: 0",
        f"- **Related Nodes**: {', '.join(filter(None, (summary.key, branch)))}",
        "",
    ]
    return "\n".join(lines)
