"""One root's session operations, synchronous: the rules, in one place.

Each operation checks its arguments (:mod:`scribe_ls.checks`, Python names), redacts
secrets from everything it stores, writes in one store transaction and brings the
worklog up to date before it returns. The lean CLI calls the ledger directly (no event
loop for one row); the async service runs the very same calls in its store thread and
tells listeners the :class:`Outcome`'s events. Other processes hear of every write through
the store's change feed either way.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from . import checks, gitfiles
from ._version import __version__
from .config import Config
from .errors import NoCurrentSession, StoreUnavailable
from .model import (
    DEFAULT_PRIORITY,
    DEFAULT_TYPE,
    Entry,
    Event,
    Overlap,
    SearchHit,
    Session,
    SessionChange,
    SessionSummary,
    backlog_id_from_branch,
    utc_now,
)
from .redact import redact, redact_all
from .store import Store
from .storefile import store_errors
from .worklogs import Worklogs


class Outcome:
    """What a write left: the session it is about (None: no session now) and the events
    to tell clients, in order."""

    __slots__ = ("events", "session")

    def __init__(self, session: Session | None) -> None:
        self.session = session
        self.events: list[Event] = []

    def add(self, session: Session, change: str, entries: Sequence[Entry] = ()) -> None:
        self.session = session
        self.events.append(SessionChange(session, change))
        self.events.extend(entries)


class Ledger:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.root = store.root
        self.worklogs = Worklogs(store)

    # -- reads ------------------------------------------------------------------------------

    def current_session(self) -> Session | None:
        return self.store.current_session()

    def session_or_current(self, session_id: str | None) -> Session:
        """The named session, or the current one (error -32011 if there is none)."""
        session_id = checks.session_id(session_id)
        if session_id is not None:
            return self.store.get_session(session_id)
        session = self.store.current_session()
        if session is None:
            raise NoCurrentSession()
        return session

    def get_session(self, session_id: str) -> Session:
        return self.store.get_session(checks.session_id(session_id, required=True))  # type: ignore[arg-type]

    def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int | None = 50,
    ) -> list[Session]:
        return self.store.list_sessions(
            status=checks.string(status, "status", choices=checks.SESSION_STATUSES),
            backlog_id=checks.backlog_id(backlog_id),
            tag=checks.string(tag, "tag", max_len=checks.MAX_TAG),
            limit=checks.integer(limit, "limit", low=1, high=checks.MAX_LIMIT, default=50),
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
            checks.session_id(session_id, required=True),  # type: ignore[arg-type]
            after_id=checks.integer(after_id, "after_id", low=0, high=2**62, default=0),
            limit=checks.integer(limit, "limit", low=1, high=checks.MAX_LIMIT, default=100),
            kinds=checks.kinds(kinds),
        )

    def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        """The newest ``limit`` entries of a session, oldest first."""
        return self.store.recent_entries(
            checks.session_id(session_id, required=True),  # type: ignore[arg-type]
            checks.integer(limit, "limit", low=0, high=checks.MAX_LIMIT, default=10),
        )

    def summary_counts(self, session_id: str) -> SessionSummary:
        return self.store.summary_counts(checks.session_id(session_id, required=True))  # type: ignore[arg-type]

    def overlapping_sessions(self, session_id: str | None) -> list[Overlap]:
        return self.store.overlapping_sessions(checks.session_id(session_id))

    def status(
        self, *, watcher: dict[str, Any] | None = None, pending: int = 0, uptime: float = 0.0
    ) -> dict[str, Any]:
        """What ``scribe/status`` answers. Answers even when the store cannot be used
        (``storeError`` says why); ``watcher`` is the recorder's report, if one runs here."""
        counts, current, store_error = {"active": 0, "total": 0, "paused": 0}, None, None
        try:
            with store_errors(self.store.dir):
                counts = self.store.counts()
                current = self.store.current_session()
        except StoreUnavailable as exc:
            store_error = exc.message
        return {
            "version": __version__,
            "root": str(self.root),
            "pid": os.getpid(),
            "uptimeSeconds": round(uptime, 3),
            "sessions": {"active": counts["active"], "total": counts["total"], "paused": counts["paused"]},
            "currentSessionId": current.id if current else None,
            # The session itself, so a client needs no getSession after status.
            "currentSession": current.to_wire() if current else None,
            "store": str(self.store.path),
            "storeError": store_error,
            "storeReadOnly": self.store.read_only is not None,
            "watcher": watcher
            or {
                "running": False,
                "recorder": False,
                "events": 0,
                "lastEventAt": None,
                "lastError": None,
                "restarts": 0,
            },
            "queue": {"pending": pending},
        }

    def search(self, query: str, limit: int | None = 20) -> list[SearchHit]:
        query = checks.string(query, "query", max_len=1000, required=True)  # type: ignore[assignment]
        return self.store.search(query, checks.integer(limit, "limit", low=1, high=200, default=20))

    # -- writes -----------------------------------------------------------------------------

    def start_session(
        self,
        backlog_id: str | None = None,
        title: str | None = None,
        tags: Sequence[str] | None = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> Outcome:
        """Start a session, or return the open one for the same backlog item (a paused one
        is resumed). The backlog id defaults to the one in the checked-out branch's name."""
        backlog_id = checks.backlog_id(backlog_id)
        title = checks.string(title, "title")
        tags = checks.tags(tags)
        type = checks.string(type, "type", max_len=64)
        priority = checks.string(priority, "priority", max_len=64)
        branch = gitfiles.read_branch(self.root)
        backlog_id = backlog_id or backlog_id_from_branch(branch)
        # Secrets are redacted in everything stored: a branch or a title can hold one too.
        branch = redact(branch) if branch else branch
        result, entries = self.store.start_session(
            backlog_id=backlog_id,
            title=redact(title or backlog_id or (f"Work on {branch}" if branch else "Untitled session")),
            branch=branch,
            tags=redact_all(tags),
            type=type or DEFAULT_TYPE,
            priority=priority or DEFAULT_PRIORITY,
            idle_timeout=self.config.idle_timeout,
            max_active=self.config.max_active_sessions,
            start_texts=("Session started", f"Branch: {branch}") if branch else ("Session started",),
        )
        outcome = Outcome(result.session)
        if result.created or result.resumed:
            self._render(result.session)
            outcome.add(result.session, "started" if result.created else "resumed", entries)
        return outcome

    def stop_session(self, session_id: str | None = None, *, reason: str = "Session stopped") -> Outcome:
        session = self.session_or_current(session_id)
        stopped, entries = self.store.stop_session(session.id, reason)
        outcome = Outcome(stopped)
        if entries:
            self._render(stopped)
            outcome.add(stopped, "stopped", entries)
        return outcome

    def update_session(
        self,
        session_id: str,
        *,
        status: str | None = None,
        title: str | None = None,
        add_tags: Sequence[str] | None = (),
        remove_tags: Sequence[str] | None = (),
    ) -> Outcome:
        session_id = checks.session_id(session_id, required=True)  # type: ignore[assignment]
        status = checks.string(status, "status", choices=("active", "paused"))
        title = checks.string(title, "title")
        session, changes, entries = self.store.update_session(
            session_id,
            status=status,
            title=redact(title) if title else None,
            add_tags=redact_all(checks.tags(add_tags, "add_tags")),
            remove_tags=redact_all(checks.tags(remove_tags, "remove_tags")),
            max_active=self.config.max_active_sessions,
        )
        if entries:
            self._render(session)
        outcome = Outcome(session)
        for change in changes:
            outcome.add(session, change)
        outcome.events.extend(entries)
        return outcome

    def switch_branch(self, old: str | None, new: str | None) -> Outcome:
        """Re-bind to the branch now checked out: the same (or no) backlog id keeps the
        current session on the new branch; another backlog id pauses the current session
        and starts or resumes that item's session."""
        new_id = backlog_id_from_branch(new)
        new = redact(new) if new else new
        current = self.store.current_session()
        outcome = Outcome(current)
        if current is not None and (new_id is None or current.backlog_id == new_id):
            session, entries = self.store.set_branch(current.id, new)
        else:
            if current is not None:
                outcome.events += self.update_session(current.id, status="paused").events
            if new_id is None:
                outcome.session = None
                return outcome
            started = self.start_session(new_id)
            outcome.events += started.events
            session = started.session  # type: ignore[assignment]
            if session.branch == new:  # just created on this branch: nothing to re-bind
                self.store.note_change(session.id, "branchChanged")
                entries = []
            else:
                session, entries = self.store.set_branch(session.id, new)
        self._render(session)
        outcome.add(session, "branchChanged", entries)
        return outcome

    def pause_idle_sessions(self, now: datetime | None = None) -> Outcome:
        """Pause active sessions idle past their timeout; activity resumes them."""
        now = now or utc_now()
        outcome = Outcome(None)
        for idle in self.store.idle_sessions(now, statuses=("active",)):
            result = self.store.pause_idle(idle.id, "Idle timeout reached; pausing session", now)
            if result is not None:
                session, entries = result
                self._render(session)
                outcome.add(session, "paused", entries)
        return outcome

    def cleanup(self) -> list[Outcome]:
        """Stop every open session idle for longer than its idle timeout."""
        return [
            self.stop_session(session.id, reason="Idle timeout reached; stopping scribe")
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
    ) -> Entry:
        """Add an entry; it is durable when this returns. Secrets are redacted first.
        ``stat_files``: more paths that count as changed without being listed.
        ``request_id``: a client's id for this append; a retry with the same id returns the
        entry stored the first time instead of storing it again."""
        text = checks.text(text)
        kind = checks.kind(kind)
        files = checks.files(files)
        request_id = checks.request_id(request_id)
        session = self.session_or_current(session_id)
        entry = self.store.append_entry(
            session.id, kind, redact(text), redact_all(files), redact_all(stat_files), request_id=request_id
        )
        self._render(session)
        return entry

    def render_stale_worklogs(self) -> list[str]:
        """Render the worklogs a crash left behind the store; their keys."""
        stale = self.worklogs.stale_keys()
        for key in stale:
            self.worklogs.render_quietly(key)
        return stale

    def _render(self, session: Session) -> None:
        self.worklogs.render_quietly(session.worklog_key)
