"""Wire shapes: JSON params (camelCase) into the Python API's arguments (snake_case).

Values are not checked here: the core checks every argument and names the field the
Python way; :func:`~scribe_ls.errors.on_wire` renames it back (``backlog_id`` ->
``backlogId``) for the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParams
from ..spec import rules as checks
from ..spec.rules import json_type


@dataclass(frozen=True, slots=True)
class Param:
    """One field of a request's params."""

    wire: str  # as the client sends it: "backlogId"
    api: str | None  # the Python API's argument ("backlog_id"); None: read by the wire layer
    type: str  # JSON type, for the docs: "string", "string[]", "integer"
    doc: str


def params_object(raw: Any) -> Mapping[str, Any]:
    """Params must be an object; a missing or null ``params`` means ``{}``."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return raw
    raise InvalidParams("params", f"expected an object, got {json_type(raw)}")


def api_arguments(fields: tuple[Param, ...], params: Mapping[str, Any]) -> dict[str, Any]:
    """The API's keyword arguments: every field (None when absent, which the API reads as
    its default, or refuses with "required"); fields not in the table are ignored."""
    return {f.api: params.get(f.wire) for f in fields if f.api is not None}


def work_done_token(params: Mapping[str, Any]) -> str | int | None:
    """LSP's ``workDoneToken``: a string or an integer, offered by the client for progress."""
    token = params.get("workDoneToken")
    if token is None or isinstance(token, str) or (isinstance(token, int) and not isinstance(token, bool)):
        return token
    raise InvalidParams("workDoneToken", f"expected a string or an integer, got {json_type(token)}")


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
