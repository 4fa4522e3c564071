"""Every operation of scribe-ls, declared once: its wire name, its fields (type, rule,
limits, default, doc), its handler (the :class:`~scribe_ls.core.service.Scribe` method),
its result and its summary.

Derived from here: the JSON-RPC method table (:mod:`scribe_ls.rpc.methods`), the checks
the core makes (``OPERATION.check(...)`` at the top of each ``Scribe`` method and CLI
verb), the MCP tools' argument schemas (:mod:`scribe_ls.agents.mcp_server`), the CLI's
flags, their help and its error wording (:mod:`scribe_ls.cli.main`), and the requests
section of ``docs/protocol.md`` (``python -m scribe_ls.contract.operations`` prints it).
``tests/unit/test_declarations.py`` holds all of them to these declarations.

Changing a limit is one line below (or in :mod:`scribe_ls.contract.rules`, for the limits
several fields share).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import CONTEXT_FORMATS, CONTEXT_SECTIONS
from . import rules
from .fields import INTEGER, STRING, STRINGS, TOKEN, Field

REPORT_KINDS = ("time", "standup", "team")
REPORT_GROUPINGS = ("item", "day", "branch", "author", "teammate")
MAX_QUERY = 1000
MAX_SINCE = 64


class Operation:
    """One request: what it is called, reads, does and answers (a slotted class, as
    :class:`~scribe_ls.contract.fields.Field` is, for the CLI's start-up)."""

    __slots__ = ("fields", "handler", "name", "progress", "result", "summary")

    def __init__(
        self,
        name: str,
        summary: str,
        fields: tuple[Field, ...],
        handler: str,
        result: str,
        progress: str | None = None,
    ) -> None:
        self.name = name  # the JSON-RPC method: "scribe/appendEntry"
        self.summary = summary
        self.fields = fields
        self.handler = handler  # the Scribe method that does it: "append_entry"
        self.result = result  # the result's JSON shape, for the docs
        self.progress = progress  # the $/progress title, for a request that reports progress

    def __repr__(self) -> str:
        return f"Operation({self.name!r})"

    def field(self, name: str) -> Field:
        """A field by its Python name (or its wire name)."""
        for field in self.fields:
            if name in (field.name, field.wire):
                return field
        raise KeyError(f"{self.name} has no field {name}")

    def check(self, **arguments: Any) -> dict[str, Any]:
        """Every field's value to use, by its Python name: each held to its rule (absent
        ones get their default), or :class:`~scribe_ls.errors.InvalidParams` naming the
        first field that breaks one. Only declared fields are read."""
        return {f.name: f.check(arguments.get(f.name)) for f in self.fields if f.name is not None}

    def arguments(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The Python API's keyword arguments from a request's params (wire names); fields
        the table does not declare are ignored, absent ones are None (the API's default)."""
        return {f.name: params.get(f.wire) for f in self.fields if f.name is not None}


# -- fields several operations share ----------------------------------------------------

SESSION_ID = Field(
    "sessionId",
    "session_id",
    STRING,
    "the session",
    default_doc="the current one",
    max_len=rules.MAX_SESSION_ID,
    cli="--session",
)
A_SESSION = SESSION_ID.but(required=True, default_doc="")
BACKLOG_ID = Field(
    "backlogId",
    "backlog_id",
    STRING,
    "`B-<digits>`",
    max_len=16,
    pattern=rules.BACKLOG_ID_RE,
    hint="B-<digits>",
    cli="--backlog-id",
)
TITLE = Field("title", "title", STRING, max_len=rules.MAX_LABEL, cli="--title")
TAGS = Field("tags", "tags", STRINGS, "labels", max_items=rules.MAX_TAGS, max_len=rules.MAX_TAG, cli="--tag")
LIMIT = Field("limit", "limit", INTEGER, low=1, high=rules.MAX_LIMIT, cli="--limit")
DAY_FORMS = "`YYYY-MM-DD`, `today`, `yesterday`, `week`, `month` or `<N>d` (N days ago)"


START_SESSION = Operation(
    "scribe/startSession",
    "Start a session, or rejoin the open one of the same backlog item, applying the title, tags"
    " (added), type and priority given; a paused one is resumed. The session that was active"
    " is paused. `change` says which: `started`, `resumed`, `updated` or `rejoined`.",
    (
        BACKLOG_ID.but(default_doc="the first `B-123` in the branch name"),
        TITLE.but(default_doc="the branch's words, else the backlog id, else `Work on <branch>`"),
        TAGS,
        Field("type", "type", STRING, max_len=64, default_doc="`development`", cli="--type"),
        Field("priority", "priority", STRING, max_len=64, default_doc="`medium`", cli="--priority"),
    ),
    "start",
    "Session & {change}",
)

STOP_SESSION = Operation(
    "scribe/stopSession",
    "Stop a session (it becomes `completed`); stopping a stopped session changes nothing.",
    (SESSION_ID,),
    "stop_session",
    "Session",
)

UPDATE_SESSION = Operation(
    "scribe/updateSession",
    "Pause or resume a session, retitle it, add or remove tags.",
    (
        A_SESSION,
        Field("status", "status", STRING, choices=("active", "paused"), cli="--status"),
        TITLE.but(doc="a new title"),
        TAGS.but(wire="addTags", name="add_tags", doc="tags to add", cli="tags"),
        TAGS.but(wire="removeTags", name="remove_tags", doc="tags to remove", cli="tags"),
    ),
    "update_session",
    "Session",
)

GET_SESSION = Operation("scribe/getSession", "One session.", (A_SESSION,), "get_session", "Session")

LIST_SESSIONS = Operation(
    "scribe/listSessions",
    "Sessions, newest first.",
    (
        Field(
            "status",
            "status",
            STRING,
            "only sessions in this state",
            choices=rules.SESSION_STATUSES,
            cli="--status",
        ),
        BACKLOG_ID.but(doc="only this backlog item's sessions (`B-<digits>`)"),
        Field("tag", "tag", STRING, "only sessions with this tag", max_len=rules.MAX_TAG, cli="--tag"),
        LIMIT.but(default=50),
    ),
    "list_sessions",
    "{sessions: Session[]}",
)

APPEND_ENTRY = Operation(
    "scribe/appendEntry",
    "Add an entry to a session; answered once it is committed to disk. Secrets are redacted.",
    (
        Field("text", "text", STRING, required=True, max_len=rules.MAX_TEXT, trim=True, cli="text"),
        Field("kind", "kind", STRING, choices=rules.ENTRY_KINDS, default="note", cli="--kind"),
        SESSION_ID,
        Field(
            "files",
            "files",
            STRINGS,
            "paths the entry is about",
            max_items=rules.MAX_FILES,
            max_len=rules.MAX_PATH,
            one_line=True,
            cli="--file",
        ),
        Field(
            "requestId",
            "request_id",
            STRING,
            "the client's id for this append: a retry returns the entry stored the first time",
            max_len=rules.MAX_REQUEST_ID,
        ),
        Field(
            "author",
            "author",
            STRING,
            "an agent writing it (e.g. `claude-code`): shown in worklogs and packets; omit for the"
            " developer. Letters, digits, `._-@+/:()` and spaces, up to 64",
            max_len=64,
            pattern=rules.AUTHOR_RE,
            hint="a name of letters, digits, ._-@+/:() and spaces",
            cli="--author",
        ),
    ),
    "append_entry",
    "Entry",
)

GET_ENTRIES = Operation(
    "scribe/getEntries",
    "A session's entries, oldest first, a page at a time.",
    (
        A_SESSION,
        Field("afterId", "after_id", INTEGER, "entries after this id", default=0, low=0, high=2**62),
        LIMIT.but(default=100),
        Field(
            "kinds",
            "kinds",
            STRINGS,
            "only these kinds",
            max_items=len(rules.ENTRY_KINDS),
            max_len=16,
            choices=rules.ENTRY_KINDS,
        ),
    ),
    "get_entries",
    "{entries: Entry[], nextAfterId: integer | null}",
)

SEARCH = Operation(
    "scribe/search",
    "Full-text search over every entry of the root, its text and the files it names (`termui`"
    " finds the commit that changed `src/click/termui.py`); every word must match, as a word or"
    " the start of one (`colo` finds `colour`), taken literally. Entries where every word is a"
    " whole word come first, then those where some word only starts one; each group newest"
    " first (relevance by recency: the cost stays flat as the store grows, where scoring every"
    " match did not).",
    (
        Field("query", "query", STRING, required=True, max_len=MAX_QUERY, cli="query"),
        LIMIT.but(high=200, default=20),
    ),
    "search",
    "{hits: SearchHit[]}",
)

STATUS = Operation(
    "scribe/status",
    "The server, the store, the current session and the recorder. Answers also when the store"
    " cannot be used.",
    (),
    "status",
    "Status",
)

GET_CONTEXT = Operation(
    "scribe/getContext",
    "The context packet: sections fetched in parallel, cut to a character budget.",
    (
        SESSION_ID,
        Field(
            "sections",
            "sections",
            STRINGS,
            default_doc="all",
            max_items=len(CONTEXT_SECTIONS),
            max_len=16,
            choices=CONTEXT_SECTIONS,
            cli="--sections",
        ),
        Field(
            "maxChars",
            "max_chars",
            INTEGER,
            "the most characters the packet may have",
            default=12000,
            low=1000,
            high=1_000_000,
            cli="--max-chars",
        ),
        Field(
            "maxTokens",
            "max_tokens",
            INTEGER,
            "also fit this many tokens as estimated offline (`tokenEstimator`)",
            default_doc="no bound",
            low=100,
            high=250_000,
            cli="--max-tokens",
        ),
        Field(
            "since",
            "since",
            STRING,
            "the `etag` of a packet you have: only what changed since (`full: false`), or a full"
            " packet (`full: true`) when that packet is not remembered",
            max_len=MAX_SINCE,
        ),
        Field("format", "format", STRING, choices=CONTEXT_FORMATS, default="json", cli="--format"),
    ),
    "context",
    "ContextPacket",
)

SUMMARIZE = Operation(
    "scribe/summarize",
    "Summarize a backlog item's sessions into `.scribe/summaries/<key>-summary.md`; pushes"
    " `scribe/summaryReady`.",
    (
        SESSION_ID,
        Field("workDoneToken", None, TOKEN, "LSP progress token: `$/progress` begin, reports, end"),
    ),
    "summarize",
    "Summary",
    progress="Summarizing the session",
)

REPORT = Operation(
    "scribe/report",
    "A report from the daily time roll-ups (local days, both ends included). `time`: active"
    " time per item, per day and item, per branch and item, per author (the person, each"
    " coding agent) and item, or per teammate and item (from the shared logs). `standup`:"
    " per backlog item worked on, its time, decisions, completed work and commits in the"
    " range and its open todos. `team`: the team's stand-up, per person (you, then each"
    " teammate in the shared logs): items, time, decisions and commits in the range.",
    (
        Field("kind", "kind", STRING, choices=REPORT_KINDS, default="time", cli="kind"),
        Field(
            "since",
            "since",
            STRING,
            f"the first day: {DAY_FORMS}",
            default_doc="6 days ago (`time`), yesterday (`standup`)",
            max_len=MAX_SINCE,
            cli="--since",
        ),
        Field(
            "until",
            "until",
            STRING,
            "the last day, the same forms",
            default_doc="`today`",
            max_len=MAX_SINCE,
            cli="--until",
        ),
        Field("by", "by", STRING, "`time` only", choices=REPORT_GROUPINGS, default_doc="`item`", cli="--by"),
    ),
    "report",
    "TimeReport | Standup",
)

RESUME = Operation(
    "scribe/resume",
    "Where a backlog item's work stands, to pick it up: last decisions, open todos, work in"
    " progress and completed, the uncommitted changes (when it is the checked-out item), the"
    " files touched last, time since the last activity, the last summary; and the same as"
    " Markdown.",
    (
        BACKLOG_ID.but(doc="that item's latest session (`B-<digits>`)", default_doc="the current one"),
        SESSION_ID,
    ),
    "resume",
    "ResumePacket",
)

HEARTBEAT = Operation(
    "scribe/heartbeat",
    "The developer is at work now (editor focus, typing): a pulse of active time for the"
    " session, and activity for the idle timer (a session it paused resumes). Send it as a"
    " notification (no answer) or a request; beats within 30 s are merged into one write.",
    (SESSION_ID.but(default_doc="the one activity belongs to"),),
    "heartbeat",
    "{session: Session | null} (the session credited; null when none, or merged)",
)

METRICS = Operation(
    "scribe/metrics",
    "This server process's live metrics: request latency per method, save to push lag, git"
    " calls, store commits, queues, pushes, watcher restarts.",
    (),
    "metrics",
    "Metrics",
)

TEAM = Operation(
    "scribe/team",
    "Who is on which item, from the shared logs read so far (sharing through the repository's"
    " git remote: `scribe-ls share on`, docs/team.md): per person (your other machines first,"
    " then each teammate; a person's machines as one) their open sessions with item, title,"
    " branch, since, last activity and files, and whether each log was pushed by its author.",
    (),
    "team",
    "Team",
)

OPERATIONS: tuple[Operation, ...] = (
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
    REPORT,
    RESUME,
    HEARTBEAT,
    METRICS,
    TEAM,
)
BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def markdown() -> str:
    """The requests section of ``docs/protocol.md``, from the declarations (a test keeps
    the file equal to it)."""
    from ..markdown import cell, table

    out: list[str] = []
    for op in OPERATIONS:
        out += [f"### `{op.name}`", "", op.summary, ""]
        if op.fields:
            rows = [(f"`{f.wire}`", f.type, cell(f.describe())) for f in op.fields]
            out += table(("param", "type", ""), rows)
        else:
            out.append("No params.")
        progress = f" Reports `$/progress` titled “{op.progress}”." if op.progress else ""
        out += ["", f"Result: {op.result}.{progress}", ""]
    return "\n".join(out).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
