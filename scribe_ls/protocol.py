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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

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

# Requests that report ``$/progress`` when the client offers a ``workDoneToken``: their titles.
PROGRESS_TITLES = {SUMMARIZE: "Summarizing the session"}


def command_name(method: str) -> str:
    """``scribe/startSession`` -> ``scribe.startSession`` (workspace/executeCommand name)."""
    return method.replace("/", ".", 1)


# -- error codes --------------------------------------------------------------------------

INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
SESSION_NOT_FOUND = -32010
NO_CURRENT_SESSION = -32011
LIMIT_REACHED = -32012
STORE_UNAVAILABLE = -32013


class ScribeError(Exception):
    """An error with a JSON-RPC code; the server turns it into an error response."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class InvalidParams(ScribeError):
    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(INVALID_PARAMS, f"{field_name}: {problem}", {"field": field_name})
        self.field = field_name


class SessionNotFound(ScribeError):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            SESSION_NOT_FOUND, f"sessionId: no session {session_id!r}", {"sessionId": session_id}
        )


class NoCurrentSession(ScribeError):
    def __init__(self) -> None:
        super().__init__(
            NO_CURRENT_SESSION,
            "no current session: start one with scribe/startSession or pass sessionId",
        )


class LimitReached(ScribeError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            LIMIT_REACHED,
            f"limit reached: {limit} sessions are already active on this root "
            "(stop or pause one, or raise max_active_sessions)",
            {"maxActiveSessions": limit},
        )


class StoreUnavailable(ScribeError):
    def __init__(self, detail: str) -> None:
        super().__init__(STORE_UNAVAILABLE, f"store unavailable: {detail}")


# -- times --------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a ``Z``, millisecond precision: ``2026-11-24T12:00:00.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- wire types ---------------------------------------------------------------------------

SESSION_STATUSES = ("active", "paused", "completed")
ENTRY_KINDS = ("note", "decision", "idea", "todo", "activity", "commit", "system")
SESSION_CHANGES = ("started", "stopped", "paused", "resumed", "updated", "branchChanged")

BACKLOG_ID_RE = re.compile(r"^B-\d{1,9}$")
BACKLOG_IN_TEXT_RE = re.compile(r"(?<![A-Za-z0-9])B-\d{1,9}(?!\d)")


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


# -- parameter checking -------------------------------------------------------------------

MAX_TEXT = 65536
MAX_LABEL = 200
MAX_TAGS = 32
MAX_TAG = 64
MAX_FILES = 1000
MAX_PATH = 4096
MAX_LIMIT = 1000


def params_object(raw: Any) -> Mapping[str, Any]:
    """Params must be an object; a missing or null ``params`` means ``{}``."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return raw
    raise InvalidParams("params", f"expected an object, got {_json_type(raw)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def opt_str(
    params: Mapping[str, Any],
    name: str,
    *,
    max_len: int = MAX_LABEL,
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
    choices: tuple[str, ...] = (),
) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParams(name, f"expected a string, got {_json_type(value)}")
    if choices and value not in choices:
        raise InvalidParams(name, f"must be one of {', '.join(choices)}; got {value!r}")
    if not value.strip():
        raise InvalidParams(name, "must not be empty")
    if len(value) > max_len:
        raise InvalidParams(name, f"too long ({len(value)} characters, at most {max_len})")
    if "\x00" in value:
        raise InvalidParams(name, "must not contain NUL characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidParams(name, f"{value[:80]!r} does not match {hint or pattern.pattern}")
    return value


def req_str(params: Mapping[str, Any], name: str, **kwargs: Any) -> str:
    value = opt_str(params, name, **kwargs)
    if value is None:
        raise InvalidParams(name, "is required")
    return value


def opt_int(params: Mapping[str, Any], name: str, *, low: int, high: int) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    # bool is an int in Python, but true is not a number on the wire.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(name, f"expected an integer, got {_json_type(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidParams(name, f"expected an integer, got {value}")
        value = int(value)
    if not low <= value <= high:
        raise InvalidParams(name, f"must be between {low} and {high}, got {value}")
    return value


def opt_str_list(
    params: Mapping[str, Any],
    name: str,
    *,
    max_items: int,
    max_len: int,
    choices: tuple[str, ...] = (),
) -> tuple[str, ...] | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidParams(name, f"expected an array of strings, got {_json_type(value)}")
    if len(value) > max_items:
        raise InvalidParams(name, f"too many items ({len(value)}, at most {max_items})")
    items: list[str] = []
    for index, item in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(item, str):
            raise InvalidParams(where, f"expected a string, got {_json_type(item)}")
        item = item.strip()
        if not item:
            raise InvalidParams(where, "must not be empty")
        if len(item) > max_len:
            raise InvalidParams(where, f"too long ({len(item)} characters, at most {max_len})")
        if "\x00" in item:
            raise InvalidParams(where, "must not contain NUL characters")
        if choices and item not in choices:
            raise InvalidParams(where, f"must be one of {', '.join(choices)}; got {item!r}")
        if item not in items:
            items.append(item)
    return tuple(items)


def session_id_param(params: Mapping[str, Any]) -> str | None:
    # Any string is looked up: an id that names no session is -32010, not -32602, so a
    # client can tell "wrong type" from "gone".
    return opt_str(params, "sessionId", max_len=128)


def required_session_id(params: Mapping[str, Any]) -> str:
    value = session_id_param(params)
    if value is None:
        raise InvalidParams("sessionId", "is required")
    return value


def tag_list(params: Mapping[str, Any], name: str) -> tuple[str, ...] | None:
    return opt_str_list(params, name, max_items=MAX_TAGS, max_len=MAX_TAG)


def entry_text(params: Mapping[str, Any]) -> str:
    value = params.get("text")
    if value is None:
        raise InvalidParams("text", "is required")
    if not isinstance(value, str):
        raise InvalidParams("text", f"expected a string, got {_json_type(value)}")
    if not value.strip():
        raise InvalidParams("text", "must not be empty")
    if len(value) > MAX_TEXT:
        raise InvalidParams("text", f"too long ({len(value)} characters, at most {MAX_TEXT})")
    if "\x00" in value:
        raise InvalidParams("text", "must not contain NUL characters")
    return value.strip("\n")


def file_list(params: Mapping[str, Any]) -> tuple[str, ...]:
    files = opt_str_list(params, "files", max_items=MAX_FILES, max_len=MAX_PATH) or ()
    for index, path in enumerate(files):
        if "\n" in path or "\r" in path:
            raise InvalidParams(f"files[{index}]", "must not contain line breaks")
    return files


# -- request params -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartSessionParams:
    backlog_id: str | None = None
    title: str | None = None
    tags: tuple[str, ...] = ()
    type: str | None = None
    priority: str | None = None

    @classmethod
    def from_wire(cls, raw: Any) -> StartSessionParams:
        p = params_object(raw)
        return cls(
            backlog_id=opt_str(p, "backlogId", max_len=16, pattern=BACKLOG_ID_RE, hint="B-<digits>"),
            title=opt_str(p, "title"),
            tags=tag_list(p, "tags") or (),
            type=opt_str(p, "type", max_len=64),
            priority=opt_str(p, "priority", max_len=64),
        )


@dataclass(frozen=True, slots=True)
class SessionRef:
    """Params that may name one session; none means the current one (``stopSession``)."""

    session_id: str | None = None

    @classmethod
    def optional(cls, raw: Any) -> SessionRef:
        return cls(session_id_param(params_object(raw)))


@dataclass(frozen=True, slots=True)
class UpdateSessionParams:
    session_id: str
    status: str | None = None
    title: str | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, raw: Any) -> UpdateSessionParams:
        p = params_object(raw)
        return cls(
            session_id=required_session_id(p),
            status=opt_str(p, "status", choices=("active", "paused")),
            title=opt_str(p, "title"),
            add_tags=tag_list(p, "addTags") or (),
            remove_tags=tag_list(p, "removeTags") or (),
        )


@dataclass(frozen=True, slots=True)
class ListSessionsParams:
    status: str | None = None
    backlog_id: str | None = None
    tag: str | None = None
    limit: int = 50

    @classmethod
    def from_wire(cls, raw: Any) -> ListSessionsParams:
        p = params_object(raw)
        return cls(
            status=opt_str(p, "status", choices=SESSION_STATUSES),
            backlog_id=opt_str(p, "backlogId", max_len=16, pattern=BACKLOG_ID_RE, hint="B-<digits>"),
            tag=opt_str(p, "tag", max_len=MAX_TAG),
            limit=opt_int(p, "limit", low=1, high=MAX_LIMIT) or 50,
        )


@dataclass(frozen=True, slots=True)
class AppendEntryParams:
    text: str
    kind: str = "note"
    session_id: str | None = None
    files: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, raw: Any) -> AppendEntryParams:
        p = params_object(raw)
        return cls(
            text=entry_text(p),
            kind=opt_str(p, "kind", choices=ENTRY_KINDS) or "note",
            session_id=session_id_param(p),
            files=file_list(p),
        )


@dataclass(frozen=True, slots=True)
class GetEntriesParams:
    session_id: str
    after_id: int = 0
    limit: int = 100
    kinds: tuple[str, ...] = ()

    @classmethod
    def from_wire(cls, raw: Any) -> GetEntriesParams:
        p = params_object(raw)
        return cls(
            session_id=required_session_id(p),
            after_id=opt_int(p, "afterId", low=0, high=2**62) or 0,
            limit=opt_int(p, "limit", low=1, high=MAX_LIMIT) or 100,
            kinds=opt_str_list(p, "kinds", max_items=len(ENTRY_KINDS), max_len=16, choices=ENTRY_KINDS) or (),
        )


@dataclass(frozen=True, slots=True)
class SearchParams:
    query: str
    limit: int = 20

    @classmethod
    def from_wire(cls, raw: Any) -> SearchParams:
        p = params_object(raw)
        return cls(
            query=req_str(p, "query", max_len=1000),
            limit=opt_int(p, "limit", low=1, high=200) or 20,
        )


CONTEXT_SECTIONS = ("session", "git", "diff", "commits", "worklog", "summary", "sessions")
CONTEXT_FORMATS = ("json", "markdown")


@dataclass(frozen=True, slots=True)
class GetContextParams:
    session_id: str | None = None
    sections: tuple[str, ...] = CONTEXT_SECTIONS
    max_chars: int = 12000
    format: str = "json"

    @classmethod
    def from_wire(cls, raw: Any) -> GetContextParams:
        p = params_object(raw)
        sections = opt_str_list(
            p, "sections", max_items=len(CONTEXT_SECTIONS), max_len=16, choices=CONTEXT_SECTIONS
        )
        return cls(
            session_id=session_id_param(p),
            sections=sections or CONTEXT_SECTIONS,
            max_chars=opt_int(p, "maxChars", low=1000, high=1_000_000) or 12000,
            format=opt_str(p, "format", choices=CONTEXT_FORMATS) or "json",
        )


@dataclass(frozen=True, slots=True)
class SummarizeParams:
    session_id: str | None = None
    work_done_token: str | int | None = None

    @classmethod
    def from_wire(cls, raw: Any) -> SummarizeParams:
        p = params_object(raw)
        return cls(session_id=session_id_param(p), work_done_token=work_done_token(p))


def work_done_token(params: Mapping[str, Any]) -> str | int | None:
    """LSP's ``workDoneToken``: a string or an integer, offered by the client for progress."""
    token = params.get("workDoneToken")
    if token is None or isinstance(token, str) or (isinstance(token, int) and not isinstance(token, bool)):
        return token
    raise InvalidParams("workDoneToken", f"expected a string or an integer, got {_json_type(token)}")


@dataclass(frozen=True, slots=True)
class NoParams:
    @classmethod
    def from_wire(cls, raw: Any) -> NoParams:
        params_object(raw)
        return cls()


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
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, raw: Any) -> InitOptions:
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise InvalidParams("initializationOptions", f"expected an object, got {_json_type(raw)}")
        notifications = raw.get("notifications", True)
        if not isinstance(notifications, bool):
            raise InvalidParams(
                "initializationOptions.notifications",
                f"expected a boolean, got {_json_type(notifications)}",
            )
        return cls(
            root=opt_str(raw, "root", max_len=MAX_PATH),
            notifications=notifications,
            extra=dict(raw),
        )
