"""The method table: every declared operation (:mod:`scribe_ls.contract.operations`) as a
JSON-RPC request, and how its answer is shaped.

The server registers what is here (as a request and as a ``workspace/executeCommand``
command), ``initialize`` advertises it, the CLI's ``call`` verb dispatches through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..contract import operations as ops
from ..contract.operations import Operation, markdown
from ..core.events import NOTIFICATIONS
from ..errors import METHOD_NOT_FOUND, InvalidParams, ScribeError, on_wire
from .params import params_object, work_done_token

if TYPE_CHECKING:
    from ..core.service import Progress, Scribe

PROTOCOL_VERSION = 1

Call = Callable[["Scribe", dict[str, Any], "Progress | None"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    """A declared operation and how its result goes on the wire."""

    operation: Operation
    call: Call  # the service call; returns the JSON result

    @property
    def name(self) -> str:
        return self.operation.name

    @property
    def progress(self) -> str | None:
        return self.operation.progress

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(f.wire for f in self.operation.fields)

    @property
    def command(self) -> str:
        """``scribe/startSession`` -> ``scribe.startSession`` (workspace/executeCommand)."""
        return self.name.replace("/", ".", 1)


async def _start_session(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    started = await s.start(**a)
    return {**started.session.to_wire(), "change": started.change}


async def _stop_session(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return (await s.stop_session(**a)).to_wire()


async def _update_session(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return (await s.update_session(**a)).to_wire()


async def _get_session(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return (await s.get_session(**a)).to_wire()


async def _list_sessions(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return {"sessions": [session.to_wire() for session in await s.list_sessions(**a)]}


async def _append_entry(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return (await s.append_entry(**a)).to_wire()


async def _get_entries(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    entries, next_after = await s.get_entries(**a)
    return {"entries": [e.to_wire() for e in entries], "nextAfterId": next_after}


async def _search(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return {"hits": [hit.to_wire() for hit in await s.search(**a)]}


async def _status(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.status()


async def _get_context(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.context(**a)


async def _metrics(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.metrics()


async def _team(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.team()


async def _summarize(s: Scribe, a: dict[str, Any], progress: Progress | None) -> Any:
    return await s.summarize(**a, progress=progress)


async def _resume(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.resume(**a)


async def _report(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.report(**a)


async def _heartbeat(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    session = await s.heartbeat(**a)
    return {"session": session.to_wire() if session is not None else None}


# How each operation's result goes on the wire (the operations are declared, with their
# fields, rules and docs, in scribe_ls.contract.operations).
ANSWERS: dict[Operation, Call] = {
    ops.START_SESSION: _start_session,
    ops.STOP_SESSION: _stop_session,
    ops.UPDATE_SESSION: _update_session,
    ops.GET_SESSION: _get_session,
    ops.LIST_SESSIONS: _list_sessions,
    ops.APPEND_ENTRY: _append_entry,
    ops.GET_ENTRIES: _get_entries,
    ops.SEARCH: _search,
    ops.STATUS: _status,
    ops.GET_CONTEXT: _get_context,
    ops.SUMMARIZE: _summarize,
    ops.REPORT: _report,
    ops.RESUME: _resume,
    ops.HEARTBEAT: _heartbeat,
    ops.METRICS: _metrics,
    ops.TEAM: _team,
}

METHODS: tuple[Method, ...] = tuple(Method(op, ANSWERS[op]) for op in ops.OPERATIONS)
BY_NAME: dict[str, Method] = {m.name: m for m in METHODS}
REQUESTS: tuple[str, ...] = tuple(BY_NAME)
# The params each request reads (wire names); anything else in params is ignored.
REQUEST_FIELDS: dict[str, tuple[str, ...]] = {m.name: m.fields for m in METHODS}


async def dispatch(scribe: Scribe, name: str, raw_params: Any, progress: Progress | None = None) -> Any:
    """Answer one request: map the wire's names to the API's, call it, return the JSON
    result. The API checks every value; an error names the field as the client sent it.

    Raises :class:`ScribeError` (with its JSON-RPC code) for anything the client did wrong
    or that cannot be done. ``progress`` hears how far a long request got.
    """
    method = BY_NAME.get(name)
    if method is None:
        raise ScribeError(METHOD_NOT_FOUND, f"method not found: {name}")
    try:
        params = params_object(raw_params)
        if method.progress is not None:
            work_done_token(params)  # checked here; the server reports the progress
        return await method.call(scribe, method.operation.arguments(params), progress)
    except InvalidParams as exc:
        raise on_wire(exc) from None


def capabilities() -> dict[str, Any]:
    """What ``initialize`` advertises under ``capabilities.experimental.scribe``."""
    return {"version": PROTOCOL_VERSION, "methods": list(REQUESTS), "notifications": list(NOTIFICATIONS)}


def progress_token(method: str, params: Any) -> str | int | None:
    """The ``workDoneToken`` of a request that reports progress, if the client offered a
    valid one (an invalid one is :func:`dispatch`'s -32602 to give)."""
    if method not in BY_NAME or BY_NAME[method].progress is None or not isinstance(params, Mapping):
        return None
    try:
        return work_done_token(params)
    except InvalidParams:
        return None


__all__ = [
    "BY_NAME",
    "METHODS",
    "REQUESTS",
    "REQUEST_FIELDS",
    "Method",
    "capabilities",
    "dispatch",
    "markdown",
]

if __name__ == "__main__":
    print(markdown(), end="")
