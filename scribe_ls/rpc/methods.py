"""The method table: every JSON-RPC request, once.

Each :class:`Method` names the request, the params it reads (wire name -> API argument),
the service call, the result's JSON shape and, for long requests, the ``$/progress``
title. The server registers what is here (as a request and as a
``workspace/executeCommand`` command), ``initialize`` advertises it, the CLI's ``call``
verb dispatches through it, and ``docs/protocol.md`` is checked against it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.events import NOTIFICATIONS
from ..errors import METHOD_NOT_FOUND, InvalidParams, ScribeError, on_wire
from .params import Param, api_arguments, params_object, work_done_token

if TYPE_CHECKING:
    from ..core.service import Progress, Scribe

PROTOCOL_VERSION = 1

Call = Callable[["Scribe", dict[str, Any], "Progress | None"], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    summary: str
    params: tuple[Param, ...]
    call: Call  # the service call; returns the JSON result
    result: str  # the result's shape, for the docs
    progress: str | None = None  # $/progress title, for requests that report progress

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.wire for p in self.params)

    @property
    def command(self) -> str:
        """``scribe/startSession`` -> ``scribe.startSession`` (workspace/executeCommand)."""
        return self.name.replace("/", ".", 1)


def _session_id(doc: str = "the session; default: the current one") -> Param:
    return Param("sessionId", "session_id", "string", doc)


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


async def _summarize(s: Scribe, a: dict[str, Any], progress: Progress | None) -> Any:
    return await s.summarize(**a, progress=progress)


async def _resume(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.resume(**a)


async def _report(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    return await s.report(**a)


async def _heartbeat(s: Scribe, a: dict[str, Any], _: Progress | None) -> Any:
    session = await s.heartbeat(**a)
    return {"session": session.to_wire() if session is not None else None}


_TAGS = "labels, each 1-64 characters; at most 32"

METHODS: tuple[Method, ...] = (
    Method(
        "scribe/startSession",
        "Start a session, or rejoin the open one of the same backlog item, applying the title, tags"
        " (added), type and priority given; a paused one is resumed. The session that was active"
        " is paused. `change` says which: `started`, `resumed`, `updated` or `rejoined`.",
        (
            Param(
                "backlogId",
                "backlog_id",
                "string",
                "`B-<digits>`; default: the first `B-123` in the branch name",
            ),
            Param("title", "title", "string", "default: the backlog id, else `Work on <branch>`"),
            Param("tags", "tags", "string[]", _TAGS),
            Param("type", "type", "string", "default `development`"),
            Param("priority", "priority", "string", "default `medium`"),
        ),
        _start_session,
        "Session & {change}",
    ),
    Method(
        "scribe/stopSession",
        "Stop a session (it becomes `completed`); stopping a stopped session changes nothing.",
        (_session_id(),),
        _stop_session,
        "Session",
    ),
    Method(
        "scribe/updateSession",
        "Pause or resume a session, retitle it, add or remove tags.",
        (
            _session_id("the session (required)"),
            Param("status", "status", "string", "`active` or `paused`"),
            Param("title", "title", "string", "a new title"),
            Param("addTags", "add_tags", "string[]", _TAGS),
            Param("removeTags", "remove_tags", "string[]", "tags to remove"),
        ),
        _update_session,
        "Session",
    ),
    Method(
        "scribe/getSession",
        "One session.",
        (_session_id("the session (required)"),),
        _get_session,
        "Session",
    ),
    Method(
        "scribe/listSessions",
        "Sessions, newest first.",
        (
            Param("status", "status", "string", "`active`, `paused` or `completed`"),
            Param("backlogId", "backlog_id", "string", "only this backlog item's sessions"),
            Param("tag", "tag", "string", "only sessions with this tag"),
            Param("limit", "limit", "integer", "1-1000, default 50"),
        ),
        _list_sessions,
        "{sessions: Session[]}",
    ),
    Method(
        "scribe/appendEntry",
        "Add an entry to a session; answered once it is committed to disk. Secrets are redacted.",
        (
            Param("text", "text", "string", "required; up to 65,536 characters"),
            Param(
                "kind",
                "kind",
                "string",
                "`note` (default), `decision`, `idea`, `todo`, `activity`, `commit`, `system`",
            ),
            _session_id(),
            Param("files", "files", "string[]", "paths the entry is about; at most 1000"),
            Param(
                "requestId",
                "request_id",
                "string",
                "the client's id for this append: a retry returns the entry stored the first time",
            ),
            Param(
                "author",
                "author",
                "string",
                "an agent writing it (e.g. `claude-code`): shown in worklogs and packets; omit for the developer",
            ),
        ),
        _append_entry,
        "Entry",
    ),
    Method(
        "scribe/getEntries",
        "A session's entries, oldest first, a page at a time.",
        (
            _session_id("the session (required)"),
            Param("afterId", "after_id", "integer", "entries after this id; default 0"),
            Param("limit", "limit", "integer", "1-1000, default 100"),
            Param("kinds", "kinds", "string[]", "only these kinds"),
        ),
        _get_entries,
        "{entries: Entry[], nextAfterId: integer | null}",
    ),
    Method(
        "scribe/search",
        "Full-text search over every entry of the root, its text and the files it names (`termui` finds the commit that changed `src/click/termui.py`); every word must match, as a word or the start of one (`colo` finds `colour`), taken literally. Entries where every word is a whole word come first, then those where some word only starts one; each group newest first (relevance by recency: the cost stays flat as the store grows, where scoring every match did not).",
        (
            Param("query", "query", "string", "required; up to 1000 characters"),
            Param("limit", "limit", "integer", "1-200, default 20"),
        ),
        _search,
        "{hits: SearchHit[]}",
    ),
    Method(
        "scribe/status",
        "The server, the store, the current session and the recorder. Answers also when the store cannot be used.",
        (),
        _status,
        "Status",
    ),
    Method(
        "scribe/getContext",
        "The context packet: sections fetched in parallel, cut to a character budget.",
        (
            _session_id(),
            Param(
                "sections",
                "sections",
                "string[]",
                "any of `session git diff commits worklog summary sessions`; default all",
            ),
            Param("maxChars", "max_chars", "integer", "1000-1,000,000, default 12000"),
            Param(
                "maxTokens",
                "max_tokens",
                "integer",
                "100-250,000: also fit this many tokens as estimated offline (`tokenEstimator`); default no bound",
            ),
            Param(
                "since",
                "since",
                "string",
                "the `etag` of a packet you have: only what changed since (`full: false`), or a full packet"
                " (`full: true`) when that packet is not remembered",
            ),
            Param("format", "format", "string", "`json` (default) or `markdown`"),
        ),
        _get_context,
        "ContextPacket",
    ),
    Method(
        "scribe/summarize",
        "Summarize a backlog item's sessions into `.scribe/summaries/<key>-summary.md`; pushes `scribe/summaryReady`.",
        (
            _session_id(),
            Param(
                "workDoneToken",
                None,
                "string | integer",
                "LSP progress token: `$/progress` begin, reports, end",
            ),
        ),
        _summarize,
        "Summary",
        progress="Summarizing the session",
    ),
    Method(
        "scribe/report",
        "A report from the daily time roll-ups (local days, both ends included). `time`: active"
        " time per item, per day and item, or per branch and item. `standup`: per backlog item"
        " worked on, its time, decisions, completed work and commits in the range and its open"
        " todos.",
        (
            Param("kind", "kind", "string", "`time` (default) or `standup`"),
            Param(
                "since",
                "since",
                "string",
                "`YYYY-MM-DD`, `today`, `yesterday`, `week`, `month` or `<N>d` (N days ago);"
                " default: 6 days ago (`time`), yesterday (`standup`)",
            ),
            Param("until", "until", "string", "the same forms; default `today`"),
            Param("by", "by", "string", "`item` (default), `day` or `branch`; `time` only"),
        ),
        _report,
        "TimeReport | Standup",
    ),
    Method(
        "scribe/resume",
        "Where a backlog item's work stands, to pick it up: last decisions, open todos, work in"
        " progress and completed, the uncommitted changes (when it is the checked-out item), the"
        " files touched last, time since the last activity, the last summary; and the same as"
        " Markdown.",
        (
            Param("backlogId", "backlog_id", "string", "that item's latest session; default the current one"),
            _session_id(),
        ),
        _resume,
        "ResumePacket",
    ),
    Method(
        "scribe/heartbeat",
        "The developer is at work now (editor focus, typing): a pulse of active time for the"
        " session, and activity for the idle timer (a session it paused resumes). Send it as a"
        " notification (no answer) or a request; beats within 30 s are merged into one write.",
        (_session_id("the session; default: the one activity belongs to"),),
        _heartbeat,
        "{session: Session | null} (the session credited; null when none, or merged)",
    ),
    Method(
        "scribe/metrics",
        "This server process's live metrics: request latency per method, save to push lag, git"
        " calls, store commits, queues, pushes, watcher restarts.",
        (),
        _metrics,
        "Metrics",
    ),
)

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
        return await method.call(scribe, api_arguments(method.params, params), progress)
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


def markdown() -> str:
    """The requests section of ``docs/protocol.md``, from this table (a test keeps the
    file equal to it: ``python -m scribe_ls.rpc.methods`` prints it)."""
    out = []
    for method in METHODS:
        out += [f"### `{method.name}`", "", method.summary, ""]
        if method.params:
            out += ["| param | type | |", "| --- | --- | --- |"]
            out += [f"| `{p.wire}` | {p.type} | {p.doc} |" for p in method.params]
        else:
            out.append("No params.")
        progress = f" Reports `$/progress` titled “{method.progress}”." if method.progress else ""
        out += ["", f"Result: {method.result}.{progress}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
