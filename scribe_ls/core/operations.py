"""One root's session operations, synchronous: the rules, in one place.

Each operation checks its arguments (by its declaration, :mod:`scribe_ls.contract.operations`), redacts
secrets from everything it stores, writes in one store transaction and brings the
worklog up to date before it returns. The lean CLI calls the ledger directly (no event
loop for one row); the async service runs the very same calls in its store thread and
tells listeners the :class:`Outcome`'s events. Other processes hear of every write through
the store's change feed either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from ..config import Config
from ..contract import rules
from ..contract.operations import (
    A_SESSION,
    APPEND_ENTRY,
    GET_ENTRIES,
    GET_SESSION,
    HEARTBEAT,
    LIST_SESSIONS,
    REPORT,
    SEARCH,
    SESSION_ID,
    START_SESSION,
    STOP_SESSION,
    UPDATE_SESSION,
)
from ..errors import InvalidParams, NoCurrentSession, ScribeError
from ..git import files as gitfiles
from ..model import (
    Entry,
    Event,
    Overlap,
    SearchHit,
    Session,
    SessionChange,
    SessionSummary,
    backlog_id_from_branch,
    title_from_branch,
    utc_now,
)
from ..redact import redact, redact_all
from ..store.database import Store, Touched
from ..worklog.files import Worklogs
from ..worklog.format import IDLE_PAUSE, IDLE_STOP, SESSION_STOPPED

if TYPE_CHECKING:
    from .reports import Standup, TimeReport
    from .team_reports import TeamStandup

# Files whose authors one read says at most (a packet's diff lists fewer: its budget).
MAX_FILE_AUTHORS = 2000


class Outcome:
    """What a write left: the session it is about (None: no session now), the events to
    tell clients, in order, and for a start what it did (``started``, ``resumed``,
    ``updated``, ``rejoined``), for an append the entry."""

    __slots__ = ("change", "entry", "events", "session")

    def __init__(self, session: Session | None) -> None:
        self.session = session
        self.events: list[Event] = []
        self.change: str | None = None
        self.entry: Entry | None = None

    def add(self, session: Session, change: str, entries: Sequence[Entry] = ()) -> None:
        self.session = session
        self.events.append(SessionChange(session, change))
        self.events.extend(entries)

    def then(self, later: Outcome) -> Outcome:
        """This outcome's events followed by ``later``'s; ``later`` says the rest."""
        later.events[:0] = self.events
        return later


class AppendRequest(NamedTuple):
    """The arguments of one append, held to APPEND_ENTRY's rules (``APPEND_ENTRY.check``),
    for :meth:`Ledger.append_entries`. (A NamedTuple, not a dataclass: the lean CLI imports
    this module; bench/RESULTS.md, "CLI start-up".)"""

    text: str
    kind: str = "note"
    session_id: str | None = None
    files: Sequence[str] = ()
    stat_files: Sequence[str] = ()
    request_id: str | None = None
    author: str | None = None


class Ledger:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.apply_config(config)
        self.root = store.root
        self.worklogs = Worklogs(store)
        # Inside append_entries: the worklogs to bring up to date once its commit is done.
        self._renders_after_commit: set[str] | None = None

    def apply_config(self, config: Config) -> None:
        """Use ``config`` from now on (the store's rules too: they apply to open sessions)."""
        self.config = config
        self.store.idle_timeout = config.idle_timeout
        self.store.idle_gap = config.idle_gap

    # -- reads ------------------------------------------------------------------------------

    def current_session(self) -> Session | None:
        """The current session: the open session of the checked-out branch's backlog item;
        when the branch names none, the open session used last. HEAD is read on every
        call (a file read, no git process), so a branch switch is never missed."""
        return self.store.current_session(self._branch_item())

    def _branch_item(self) -> str | None:
        """The checked-out branch's backlog id (HEAD read now)."""
        return backlog_id_from_branch(gitfiles.read_branch(self.root))

    def session_or_current(self, session_id: str | None) -> Session:
        """The named session, or the current one (error -32011 if there is none)."""
        session_id = SESSION_ID.check(session_id)
        if session_id is not None:
            return self.store.get_session(session_id)
        branch_item = self._branch_item()
        session = self.store.current_session(branch_item)
        if session is None:
            raise NoCurrentSession(branch_item)
        return session

    def get_session(self, session_id: str) -> Session:
        return self.store.get_session(**GET_SESSION.check(session_id=session_id))

    def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int | None = 50,
    ) -> list[Session]:
        return self.store.list_sessions(
            **LIST_SESSIONS.check(status=status, backlog_id=backlog_id, tag=tag, limit=limit)
        )

    def get_entries(
        self,
        session_id: str,
        *,
        after_id: int | None = 0,
        limit: int | None = 100,
        kinds: Sequence[str] | None = (),
    ) -> tuple[list[Entry], int | None]:
        return self.store.get_entries(
            **GET_ENTRIES.check(session_id=session_id, after_id=after_id, limit=limit, kinds=kinds)
        )

    def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        """The newest ``limit`` entries of a session, oldest first."""
        return self.store.recent_entries(
            A_SESSION.check(session_id),
            rules.integer(limit, "limit", low=0, high=rules.MAX_LIMIT, default=10),
        )

    def summary_counts(self, session_id: str) -> SessionSummary:
        return self.store.summary_counts(A_SESSION.check(session_id))

    def file_authors(self, session_id: str, paths: Sequence[str]) -> dict[str, list[str]]:
        """Who changed each of ``paths`` (the first MAX_FILE_AUTHORS) on a session's item:
        ``person`` or an agent's name; a path nobody was seen changing is left out."""
        session = self.store.get_session(A_SESSION.check(session_id))
        return self.store.file_authors(session.worklog_key, list(paths)[:MAX_FILE_AUTHORS])

    def overlapping_sessions(self, session_id: str | None) -> list[Overlap]:
        """Other open sessions of this root, then those of the repository's linked
        worktrees, each with the files both it and ``session_id`` touched."""
        from .overlaps import sibling_sessions

        session_id = SESSION_ID.check(session_id)
        return [*self.store.overlapping_sessions(session_id), *sibling_sessions(self.store, session_id)]

    def team(self) -> dict[str, Any]:
        """Who is on which item, from the shared logs (scribe_ls/team): ``{people}``."""
        from ..team.views import team

        return {"people": team(self.store.team_sessions(), me=self.store.my_author_id())}

    def search(self, query: str, limit: int | None = 20) -> list[SearchHit]:
        return self.store.search(**SEARCH.check(query=query, limit=limit))

    def report(
        self,
        kind: str | None = "time",
        *,
        since: str | None = None,
        until: str | None = None,
        by: str | None = None,
    ) -> TimeReport | Standup | TeamStandup:
        """A time report (``by`` item, day, branch, author or teammate; default the last 7
        days), a stand-up (per backlog item; default since yesterday) or the team's, from
        the daily roll-ups (and the shared logs, for the team's)."""
        from . import reports, team_reports

        given = REPORT.check(kind=kind, since=since, until=until, by=by)
        since, until, by = given["since"], given["until"], given["by"]
        today = reports.today(self.store.tz)
        if given["kind"] == "time":
            week = today - timedelta(days=6)
            first, last = reports.day_range(since, until, today=today, default_since=week)
            if by == "teammate":
                return team_reports.team_time(self.store, first, last)
            return reports.time_report(self.store, first, last, by or "item")
        if by is not None:
            raise InvalidParams("by", "only a time report is grouped; a stand-up is per backlog item")
        yesterday = today - timedelta(days=1)
        first, last = reports.day_range(since, until, today=today, default_since=yesterday)
        if given["kind"] == "team":
            return team_reports.team_standup(self.store, first, last)
        return reports.standup(self.store, first, last)

    # -- writes -----------------------------------------------------------------------------

    def heartbeat(self, session_id: str | None = None, at: datetime | None = None) -> Outcome:
        """The developer is at work now (an editor's focus or typing): a pulse of active
        time for the session (default: the one activity belongs to), which also keeps the
        idle timer off and resumes a session it paused. The outcome's session is the one
        credited; None when there is none (no current session, or it was paused by hand)."""
        session_id = HEARTBEAT.check(session_id=session_id)["session_id"]
        if session_id is None:
            outcome = self.session_for_activity()
        else:
            outcome = Outcome(self.store.get_session(session_id))
            if self.store.paused_by_idle(session_id):
                outcome = self.update_session(session_id, status="active")
        if outcome.session is None or outcome.session.status != "active":
            outcome.session = None
            return outcome
        outcome.session = self.store.heartbeat(outcome.session.id, at)
        return outcome

    def start_session(
        self,
        backlog_id: str | None = None,
        title: str | None = None,
        tags: Sequence[str] | None = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> Outcome:
        """Start a session, or rejoin the open one of the same backlog item, applying the
        title, tags (added), type and priority given; a paused one is resumed. Whatever was
        active is paused. The backlog id defaults to the checked-out branch's."""
        given = START_SESSION.check(
            backlog_id=backlog_id, title=title, tags=tags, type=type, priority=priority
        )
        # A start applies the switch itself (it pauses what was active), so following the
        # branch here only re-binds and records it.
        followed = self.follow_branch(start_new=False)
        return followed.then(self._start(**given))

    def _start(
        self,
        backlog_id: str | None,
        title: str | None = None,
        tags: Sequence[str] = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> Outcome:
        branch = gitfiles.read_branch(self.root)
        backlog_id = backlog_id or backlog_id_from_branch(branch)
        # Secrets are redacted in everything stored: a branch or a title can hold one too.
        branch = redact(branch) if branch else branch
        from . import lifecycle  # when a status changes: not on an append's start-up

        result = lifecycle.start(
            self.store,
            backlog_id=backlog_id,
            branch=branch,
            title=redact(title) if title else None,
            # The branch's words ("better help"), else the item's id: never both twice.
            default_title=title_from_branch(branch, backlog_id)
            or backlog_id
            or (f"Work on {branch}" if branch else "Untitled session"),
            tags=redact_all(tags),
            type=type,
            priority=priority,
            max_open=self.config.max_active_sessions,
        )
        outcome = self._touched(result.session, result.touched)
        outcome.change = result.change
        return outcome

    def stop_session(
        self, session_id: str | None = None, *, reason: str = SESSION_STOPPED, pulse: bool = True
    ) -> Outcome:
        """Stop a session (default: the current one, also when it is paused); ``pulse``:
        the developer stopped it (the moment counts as activity), not a timer."""
        session_id = STOP_SESSION.check(session_id=session_id)["session_id"]
        followed = self.follow_branch()
        session = self.session_or_current(session_id)
        from . import lifecycle  # when a status changes: not on an append's start-up

        stopped, entries = lifecycle.stop(self.store, session.id, reason, pulse=pulse)
        outcome = Outcome(stopped)
        if entries:
            self._render(stopped)
            outcome.add(stopped, "stopped", entries)
        return followed.then(outcome)

    def update_session(
        self,
        session_id: str,
        *,
        status: str | None = None,
        title: str | None = None,
        add_tags: Sequence[str] | None = (),
        remove_tags: Sequence[str] | None = (),
    ) -> Outcome:
        """Pause or resume (resuming one pauses the active one), retitle, tag."""
        given = UPDATE_SESSION.check(
            session_id=session_id, status=status, title=title, add_tags=add_tags, remove_tags=remove_tags
        )
        from . import lifecycle  # when a status changes: not on an append's start-up

        session, touched = lifecycle.update(
            self.store,
            given["session_id"],
            status=given["status"],
            title=redact(given["title"]) if given["title"] else None,
            add_tags=redact_all(given["add_tags"]),
            remove_tags=redact_all(given["remove_tags"]),
        )
        return self._touched(session, touched)

    def follow_branch(self, *, start_new: bool = True) -> Outcome:
        """Apply a branch switch nobody applied yet: the first process to see HEAD on
        another branch (a server's watcher, a CLI verb, an API call) applies it, once,
        by the same rule (:meth:`switch_branch`). Nothing when the store is read-only."""
        if self.store.read_only is not None:
            return Outcome(None)
        branch = gitfiles.read_branch(self.root)
        switched, old = self.store.claim_branch(redact(branch) if branch else branch)
        if not switched:
            return Outcome(None)
        return self.switch_branch(old, branch, start_new=start_new)

    def switch_branch(self, old: str | None, new: str | None, *, start_new: bool = True) -> Outcome:
        """The branch went from ``old`` to ``new``. The session current on ``old`` stays
        current, re-bound to ``new``, when ``new`` names no backlog item or the same one;
        when it names another, an active current session is paused and that item's session
        started or resumed (``start_new``; a start does it itself). Nothing was being
        recorded (no current session): nothing to do."""
        new_id = backlog_id_from_branch(new)
        new = redact(new) if new else new
        current = self.store.current_session(backlog_id_from_branch(old))
        outcome = Outcome(current)
        if current is None:
            return outcome
        if new_id is None or current.backlog_id == new_id:
            session = current
        elif start_new and current.status == "active":
            outcome = self._start(new_id)
            assert outcome.session is not None  # a start always ends with its session
            session = outcome.session
            if outcome.change == "started":  # created on this branch: nothing to re-bind
                self.store.note_change(session.id, "branchChanged")
                outcome.add(session, "branchChanged")
                return outcome
        else:
            return outcome
        from . import lifecycle  # when a status changes: not on an append's start-up

        session, entries = lifecycle.rebind_branch(self.store, session.id, new)
        self._render(session)
        outcome.add(session, "branchChanged", entries)
        return outcome

    def pause_idle_sessions(self, now: datetime | None = None) -> Outcome:
        """Pause active sessions idle past their timeout; activity resumes them."""
        now = now or utc_now()
        outcome = Outcome(None)
        for idle in self.store.idle_sessions(now, statuses=("active",)):
            from . import lifecycle  # when a status changes: not on an append's start-up

            result = lifecycle.pause_idle(self.store, idle.id, IDLE_PAUSE, now)
            if result is not None:
                session, entries = result
                self._render(session)
                outcome.add(session, "paused", entries)
        return outcome

    def cleanup(self) -> list[Outcome]:
        """Stop every open session idle for longer than its idle timeout."""
        return [
            self.stop_session(session.id, reason=IDLE_STOP, pulse=False)
            for session in self.store.idle_sessions(utc_now())
        ]

    def append_entry(
        self,
        text: str,
        kind: str | None = "note",
        session_id: str | None = None,
        files: Sequence[str] | None = (),
        *,
        stat_files: Sequence[str] = (),
        request_id: str | None = None,
        author: str | None = None,
    ) -> Outcome:
        """Add an entry (``Outcome.entry``); it is durable when this returns. Secrets are
        redacted first. ``stat_files``: more paths that count as changed without being
        listed. ``request_id``: a client's id for this append; a retry with the same id
        returns the entry stored the first time instead of storing it again. ``author``:
        the agent writing it (shown in worklogs and packets); None for the developer."""
        given = APPEND_ENTRY.check(
            text=text, kind=kind, session_id=session_id, files=files, request_id=request_id, author=author
        )
        return self._append(AppendRequest(**given, stat_files=stat_files))

    def _append(self, checked: AppendRequest) -> Outcome:
        """:meth:`append_entry` of arguments already held to APPEND_ENTRY's rules."""
        outcome = self.follow_branch()
        session = self.session_or_current(checked.session_id)
        author = checked.author
        entry = self.store.append_entry(
            session.id,
            checked.kind,
            redact(checked.text),
            redact_all(checked.files),
            redact_all(checked.stat_files),
            request_id=checked.request_id,
            author=redact(author) if author else None,
        )
        self._render(session)
        outcome.session, outcome.entry = session, entry
        outcome.events.append(entry)
        return outcome

    def append_entries(self, requests: Sequence[AppendRequest]) -> list[Outcome | ScribeError]:
        """Several appends in one transaction (group commit: one fsync for all), each
        already checked (by :meth:`Scribe.append_entry
        <scribe_ls.core.service.Scribe.append_entry>`) and stored as :meth:`append_entry`
        stores it; one that fails (an unknown session) fails alone, as its error in the list. None is
        durable before this returns, and a failed commit raises for all of them. Each
        worklog is brought up to date once, after the commit."""
        results: list[Outcome | ScribeError] = []
        self._renders_after_commit = set()
        try:
            with self.store.grouped():
                for request in requests:
                    try:
                        results.append(self._append(request))
                    except ScribeError as exc:
                        results.append(exc)
            renders = self._renders_after_commit
        finally:
            self._renders_after_commit = None
        for key in sorted(renders):
            self.worklogs.render_quietly(key)
        return results

    def session_for_activity(self) -> Outcome:
        """The session work-tree activity belongs to: the current one if it is active, or
        if the idle timer paused it (activity resumes it). None otherwise: a session the
        user paused records nothing."""
        outcome = self.follow_branch()
        current = self.current_session()
        if current is not None and self.store.paused_by_idle(current.id):
            return outcome.then(self.update_session(current.id, status="active"))
        outcome.session = current if current is not None and current.status == "active" else None
        return outcome

    def _touched(self, session: Session, touched: Sequence[Touched]) -> Outcome:
        """The outcome of a write that changed ``touched`` (in order), about ``session``;
        the worklogs that got entries brought up to date."""
        outcome = Outcome(session)
        for changed, change, entries in touched:
            if entries:
                self._render(changed)
            outcome.add(changed, change, entries)
        outcome.session = session
        return outcome

    def _render(self, session: Session) -> None:
        if self._renders_after_commit is not None:
            self._renders_after_commit.add(session.worklog_key)
        else:
            self.worklogs.render_quietly(session.worklog_key)
