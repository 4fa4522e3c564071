"""The domain: sessions, entries, search hits and overlaps, and the time helpers.

Immutable records with snake_case fields (``NamedTuple``: dataclasses cost a CLI verb's
start-up, bench/RESULTS.md, "The lean CLI and the reshaped core"), what the store returns and the
Python API hands out. ``to_wire`` gives each one's JSON shape (camelCase), the one the protocol,
``--json`` output and the context packet share. The rules every argument is held to are
in :mod:`scribe_ls.contract.rules`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

CONTEXT_SECTIONS = ("session", "git", "diff", "commits", "worklog", "summary", "sessions")
CONTEXT_FORMATS = ("json", "markdown")

# How loud a message to the user is (LSP's MessageType numbers).
MESSAGE_ERROR = 1
MESSAGE_WARNING = 2

DEFAULT_TYPE = "development"
DEFAULT_PRIORITY = "medium"

# -- times --------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, millisecond precision: ``2026-11-24T12:00:00.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- backlog ids --------------------------------------------------------------------------

BACKLOG_IN_TEXT_RE = re.compile(r"(?<![A-Za-z0-9])B-[0-9]{1,9}(?![0-9])")


def backlog_id_from_branch(branch: str | None) -> str | None:
    """The first ``B-123`` in a branch name (``feature/B-4242-x`` -> ``B-4242``)."""
    if not branch:
        return None
    found = BACKLOG_IN_TEXT_RE.search(branch)
    return found.group(0) if found else None


def whole_minutes(seconds: float) -> int:
    """Seconds as the whole minutes every duration is shown in (CLI, reports, packets,
    dashboard, editors): to the nearest, 30 s and more up. One rule, so a total shown is
    the sum of the rows shown (reports add the rows' minutes, not round the sum)."""
    return int(max(0.0, seconds) / 60 + 0.5)


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with ``…``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title_from_branch(branch: str | None, backlog_id: str | None) -> str | None:
    """The words of a branch named for the item (``feature/B-2001-better-help`` -> ``better
    help``): a session's title when none is given. None for a branch of another item."""
    named = backlog_id_from_branch(branch)
    if branch is None or named is None or (backlog_id and named != backlog_id):
        return None  # not a branch named for an item, or another item's
    name = BACKLOG_IN_TEXT_RE.sub(" ", branch.rsplit("/", 1)[-1])
    words = " ".join(word for word in re.split(r"[-_.\s]+", name) if word)
    return words or None


# -- types --------------------------------------------------------------------------------


class SessionStats(NamedTuple):
    entries: int
    files_changed: int
    active_seconds: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "filesChanged": self.files_changed,
            "activeSeconds": self.active_seconds,
        }


class Session(NamedTuple):
    id: str
    backlog_id: str | None
    title: str
    branch: str | None
    root: str
    status: str
    tags: tuple[str, ...]
    type: str
    priority: str
    started_at: str
    ended_at: str | None
    last_activity_at: str
    idle_timeout: int
    stats: SessionStats
    # Where its worklog is (clients open it without knowing how .scribe/ is laid out).
    worklog_path: str = ""

    @property
    def worklog_key(self) -> str:
        """File stem of this session's worklog: the backlog id, else the session id."""
        return self.backlog_id or self.id

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "backlogId": self.backlog_id,
            "title": self.title,
            "branch": self.branch,
            "root": self.root,
            "status": self.status,
            "tags": list(self.tags),
            "type": self.type,
            "priority": self.priority,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "lastActivityAt": self.last_activity_at,
            "idleTimeout": self.idle_timeout,
            "stats": self.stats.to_wire(),
            "worklogPath": self.worklog_path,
        }


class Entry(NamedTuple):
    id: int
    session_id: str
    at: str
    kind: str
    text: str
    files: tuple[str, ...] = ()
    author: str | None = None  # an agent that wrote it; None: the developer or the recorder

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sessionId": self.session_id,
            "at": self.at,
            "kind": self.kind,
            "text": self.text,
            "files": list(self.files),
            "author": self.author,
        }


class SearchHit(NamedTuple):
    """An entry that matched a search, with its backlog item and the matching words."""

    entry: Entry
    backlog_id: str | None
    snippet: str

    def to_wire(self) -> dict[str, Any]:
        return {"entry": self.entry.to_wire(), "backlogId": self.backlog_id, "snippet": self.snippet}


class Overlap(NamedTuple):
    """Another open session (of this root, or of a linked worktree: ``root`` says which),
    with the files both it and the asking one touched."""

    id: str
    backlog_id: str | None
    title: str
    branch: str | None
    root: str
    shared_files: tuple[str, ...]
    # A teammate's session (from the shared logs): who, as their log and its pusher say.
    teammate: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire = {
            "id": self.id,
            "backlogId": self.backlog_id,
            "title": self.title,
            "branch": self.branch,
            "root": self.root,
            "sharedFiles": list(self.shared_files),
        }
        return wire | ({"teammate": self.teammate} if self.teammate else {})


class SessionSummary(NamedTuple):
    """What a session amounts to: counts and the latest decisions, ideas and todos."""

    entries: int
    files_changed: int
    decisions: tuple[str, ...]
    ideas: tuple[str, ...]
    todos: tuple[str, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "filesChanged": self.files_changed,
            "decisions": list(self.decisions),
            "ideas": list(self.ideas),
            "todos": list(self.todos),
        }


class SessionChange(NamedTuple):
    """A session moved (``started``, ``paused``, ``branchChanged``, ...): a push."""

    session: Session
    change: str


# What a write did, in the order clients are told: session changes and new entries.
Event = SessionChange | Entry
