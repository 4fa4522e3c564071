"""Every error scribe-ls answers with, and its JSON-RPC code."""

from __future__ import annotations

import re
from typing import Any

# -- codes --------------------------------------------------------------------------

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
SESSION_NOT_FOUND = -32010
NO_CURRENT_SESSION = -32011
LIMIT_REACHED = -32012
STORE_UNAVAILABLE = -32013
UNAUTHORIZED = -32014


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
        self.problem = problem


class SessionNotFound(ScribeError):
    def __init__(self, session_id: str) -> None:
        super().__init__(
            SESSION_NOT_FOUND, f"sessionId: no session {session_id!r}", {"sessionId": session_id}
        )


class NoCurrentSession(ScribeError):
    def __init__(self, backlog_id: str | None = None) -> None:
        # The branch names an item with no open session: say so, rather than let the
        # caller think the note could go elsewhere.
        which = (
            f"no open session for {backlog_id}, the checked-out branch's item"
            if backlog_id
            else ("no current session")
        )
        super().__init__(
            NO_CURRENT_SESSION,
            f"{which}: start one with scribe/startSession or pass sessionId",
            {"backlogId": backlog_id} if backlog_id else None,
        )


class LimitReached(ScribeError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            LIMIT_REACHED,
            f"limit reached: {limit} sessions are already open on this root "
            "(stop one, or raise max_active_sessions)",
            {"maxActiveSessions": limit},
        )


class StoreUnavailable(ScribeError):
    def __init__(self, detail: str) -> None:
        super().__init__(STORE_UNAVAILABLE, f"store unavailable: {detail}")
        self.detail = detail


def wire_field(name: str) -> str:
    """``add_tags[1]`` -> ``addTags[1]``: a Python argument name as the wire spells it."""
    head, sep, rest = name.partition("[")
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), head) + sep + rest


def on_wire(error: InvalidParams) -> InvalidParams:
    """The same error, naming the field the way a JSON-RPC client sent it."""
    wire = wire_field(error.field)
    if wire == error.field:
        return error
    return InvalidParams(wire, error.problem)
