"""MCP tool arguments, from the operations' declarations (:mod:`scribe_ls.contract.operations`).

The SDK reads a tool's JSON Schema from its function's annotations; :func:`argument` makes
that annotation from a declared field, so a tool's limits, choices and descriptions are the
wire's. A tool may narrow a field (``scribe_note`` offers the kinds a person writes, not
the recorder's), never widen it: ``tests/unit/test_declarations.py`` checks each tool's
schema against its operation's fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp_types import ToolAnnotations
from pydantic import Field as Constraint

from ..contract.fields import INTEGER, STRINGS, Field


def argument(field: Field, *, choices: tuple[str, ...] | None = None, doc: str | None = None) -> Any:
    """The annotation of a tool argument that takes ``field``: its type, limits and
    description (``doc`` replaces the field's description; ``choices`` narrows them)."""
    allowed = choices if choices is not None else field.choices
    description = doc if doc is not None else field.describe()
    base: Any
    if field.type == INTEGER:
        constraint = Constraint(ge=field.low, le=field.high, description=description)
        base = int
    elif field.type == STRINGS:
        item: Any = (
            Literal[allowed]  # built from data
            if allowed
            else Annotated[str, Constraint(max_length=field.max_len)]
        )
        constraint = Constraint(max_length=field.max_items, description=description)
        base = list[item]
    elif allowed:
        constraint = Constraint(description=description)
        base = Literal[allowed]  # built from data
    else:
        # No pattern in the schema: the core's check says what a value must look like
        # ("'B-x' does not match B-<digits>"), which a model reads better than a regex.
        constraint = Constraint(min_length=1, max_length=field.max_len, description=description)
        base = str
    if not field.required and field.default is None:
        base = base | None
    return Annotated[base, constraint]


# What each tool does to the world, as MCP clients read it to decide what to run without
# asking (the spec's behaviour hints): nothing leaves this machine (openWorldHint false);
# reads are read-only; a note adds (not destructive, not idempotent: twice is two notes);
# starting rejoins an open session (idempotent); stopping completes a session for good
# (destructive: a completed session cannot be reopened); a summary rewrites its file.
def _hints(*, read_only: bool, destructive: bool = False, idempotent: bool = False) -> ToolAnnotations:
    if read_only:
        return ToolAnnotations(read_only_hint=True, open_world_hint=False)
    return ToolAnnotations(
        read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=False
    )


HINTS: dict[str, ToolAnnotations] = {
    "scribe_context": _hints(read_only=True),
    "scribe_note": _hints(read_only=False),
    "scribe_start_session": _hints(read_only=False, idempotent=True),
    "scribe_stop_session": _hints(read_only=False, destructive=True, idempotent=True),
    "scribe_list_sessions": _hints(read_only=True),
    "scribe_search": _hints(read_only=True),
    "scribe_summarize": _hints(read_only=False, idempotent=True),
    "scribe_resume": _hints(read_only=True),
    "scribe_report": _hints(read_only=True),
    "scribe_team": _hints(read_only=True),
}
