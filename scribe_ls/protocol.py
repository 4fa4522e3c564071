"""Wire types, method names, error codes and parameter validation.

This module is the code side of DESIGN.md section 2. It imports nothing heavy (no pygls,
no asyncio) so the CLI can use it without paying for the server's imports.

Params arrive as plain JSON objects. Each request has a small frozen dataclass with a
``from_wire`` constructor that checks every field and raises :class:`InvalidParams`
naming the field, so a client always learns *which* field was wrong and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from . import checks
from .checks import json_type
from .errors import (
    InvalidParams,
)
from .layout import Layout

PROTOCOL_VERSION = 1

# -- method names -------------------------------------------------------------------------

START_SESSION = "scribe/startSession"
STOP_SESSION = "scribe/stopSession"
UPDATE_SESSION = "scribe/updateSession"
GET_SESSION = "scribe/getSession"
LIST_SESSIONS = "scribe/listSessions"
APPEND_ENTRY = "scribe/appendEntry"
GET_ENTRIES = "scribe/getEntries"
SEARCH = "scribe/search"
STATUS = "scribe/status"
GET_CONTEXT = "scribe/getContext"
SUMMARIZE = "scribe/summarize"

SESSION_CHANGED = "scribe/sessionChanged"
ENTRY_ADDED = "scribe/entryAdded"
ACTIVITY = "scribe/activity"
SUMMARY_READY = "scribe/summaryReady"

NOTIFICATIONS = (SESSION_CHANGED, ENTRY_ADDED, ACTIVITY, SUMMARY_READY)
# LSP's own: problems the user should see (a store that cannot be used, recording stopped).
SHOW_MESSAGE = "window/showMessage"
MESSAGE_ERROR = 1
MESSAGE_WARNING = 2

# Requests this server answers (the service's dispatch table must cover exactly these).
REQUESTS = (
    START_SESSION,
    STOP_SESSION,
    UPDATE_SESSION,
    GET_SESSION,
    LIST_SESSIONS,
    APPEND_ENTRY,
    GET_ENTRIES,
    SEARCH,
    STATUS,
    GET_CONTEXT,
    SUMMARIZE,
)

# The params each request reads (wire names); anything else in params is ignored.
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {
    START_SESSION: ("backlogId", "title", "tags", "type", "priority"),
    STOP_SESSION: ("sessionId",),
    UPDATE_SESSION: ("sessionId", "status", "title", "addTags", "removeTags"),
    GET_SESSION: ("sessionId",),
    LIST_SESSIONS: ("status", "backlogId", "tag", "limit"),
    APPEND_ENTRY: ("text", "kind", "sessionId", "files", "requestId"),
    GET_ENTRIES: ("sessionId", "afterId", "limit", "kinds"),
    SEARCH: ("query", "limit"),
    STATUS: (),
    GET_CONTEXT: ("sessionId", "sections", "maxChars", "format"),
    SUMMARIZE: ("sessionId", "workDoneToken"),
}

# Requests that report ``$/progress`` when the client offers a ``workDoneToken``: their titles.
PROGRESS_TITLES = {SUMMARIZE: "Summarizing the session"}


def command_name(method: str) -> str:
    """``scribe/startSession`` -> ``scribe.startSession`` (workspace/executeCommand name)."""
    return method.replace("/", ".", 1)


# -- times --------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, millisecond precision: ``2026-11-24T12:00:00.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- wire types ---------------------------------------------------------------------------

BACKLOG_IN_TEXT_RE = re.compile(r"(?<![A-Za-z0-9])B-[0-9]{1,9}(?![0-9])")


def backlog_id_from_branch(branch: str | None) -> str | None:
    """The first ``B-123`` in a branch name (``feature/B-4242-x`` -> ``B-4242``)."""
    if not branch:
        return None
    found = BACKLOG_IN_TEXT_RE.search(branch)
    return found.group(0) if found else None


@dataclass(frozen=True, slots=True)
class SessionStats:
    entries: int
    files_changed: int
    active_seconds: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "entries": self.entries,
            "filesChanged": self.files_changed,
            "activeSeconds": self.active_seconds,
        }


@dataclass(frozen=True, slots=True)
class Session:
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
            # Clients open the worklog without knowing how .scribe/ is laid out.
            "worklogPath": str(Layout(Path(self.root)).worklog_path(self.worklog_key)),
        }


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    session_id: str
    at: str
    kind: str
    text: str
    files: tuple[str, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sessionId": self.session_id,
            "at": self.at,
            "kind": self.kind,
            "text": self.text,
            "files": list(self.files),
        }


# -- wire helpers -------------------------------------------------------------------------


def params_object(raw: Any) -> Mapping[str, Any]:
    """Params must be an object; a missing or null ``params`` means ``{}``."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return raw
    raise InvalidParams("params", f"expected an object, got {json_type(raw)}")


CONTEXT_SECTIONS = ("session", "git", "diff", "commits", "worklog", "summary", "sessions")
CONTEXT_FORMATS = ("json", "markdown")


def work_done_token(params: Mapping[str, Any]) -> str | int | None:
    """LSP's ``workDoneToken``: a string or an integer, offered by the client for progress."""
    token = params.get("workDoneToken")
    if token is None or isinstance(token, str) or (isinstance(token, int) and not isinstance(token, bool)):
        return token
    raise InvalidParams("workDoneToken", f"expected a string or an integer, got {json_type(token)}")


@dataclass(frozen=True, slots=True)
class Notification:
    """A push from the service to every connected client."""

    method: str
    params: dict[str, Any]
    # Which process caused it; relayed notifications from other processes keep their origin.
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    methods: tuple[str, ...]
    notifications: tuple[str, ...] = NOTIFICATIONS
    version: int = PROTOCOL_VERSION
    KEY: ClassVar[str] = "scribe"

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "methods": list(self.methods),
            "notifications": list(self.notifications),
        }


@dataclass(slots=True)
class InitOptions:
    """``initializationOptions`` a client may send."""

    root: str | None = None
    notifications: bool = True

    @classmethod
    def from_wire(cls, raw: Any) -> InitOptions:
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InvalidParams("initializationOptions", f"expected an object, got {json_type(raw)}")
        notifications = raw.get("notifications", True)
        if not isinstance(notifications, bool):
            raise InvalidParams(
                "initializationOptions.notifications",
                f"expected a boolean, got {json_type(notifications)}",
            )
        return cls(
            root=checks.string(raw.get("root"), "initializationOptions.root", max_len=checks.MAX_PATH),
            notifications=notifications,
        )
