"""Wire shapes: the params object, LSP's ``workDoneToken`` and ``initializationOptions``.

A request's fields are declared in :mod:`scribe_ls.contract.operations`; the core checks them
and names a field the Python way, and :func:`~scribe_ls.errors.on_wire` renames it back
(``backlog_id`` -> ``backlogId``) for the client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..contract import rules as checks
from ..contract.rules import json_type
from ..errors import InvalidParams


def params_object(raw: Any) -> Mapping[str, Any]:
    """Params must be an object; a missing or null ``params`` means ``{}``."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return raw
    raise InvalidParams("params", f"expected an object, got {json_type(raw)}")


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
