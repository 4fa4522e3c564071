"""Sessions in SQL: rows read and written, the change feed told, nothing decided here
(:mod:`scribe_ls.core.lifecycle` decides). The writes below are parts of one write: the
caller holds :meth:`~scribe_ls.store.base.StoreBase.write` around them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from ..core.timesheet import end_span
from ..model import Entry, Session, iso, parse_iso
from .base import StoreBase, new_session_id


class SessionTables(StoreBase):
    def heartbeat(self, session_id: str, at: datetime | None = None) -> Session:
        """An editor says the developer is at work in the session now (focus, typing): a
        pulse of active time and activity for the idle timer, without an entry."""
        moment = at or self.clock()
        with self._tx() as conn:
            self._session_row(session_id)
            self._pulse(session_id, moment.timestamp(), live=at is None)
            conn.execute(
                "UPDATE sessions SET last_activity_at = MAX(last_activity_at, ?) WHERE id = ?",
                (iso(moment), session_id),
            )
            return self._session(self._session_row(session_id))

    def _open_row(self, backlog_id: str) -> sqlite3.Row | None:
        """The open session of a backlog item (at most one: the sessions_open_backlog index)."""
        return self.conn.execute(
            "SELECT * FROM sessions WHERE backlog_id = ? AND status != 'completed'", (backlog_id,)
        ).fetchone()

    def current_session(self, backlog_id: str | None) -> Session | None:
        """The open session of ``backlog_id`` (the checked-out branch's); when the branch
        names none, the open session used last."""
        if backlog_id is not None:
            row = self._open_row(backlog_id)
        else:
            row = self.conn.execute(
                "SELECT * FROM sessions WHERE status != 'completed' ORDER BY used_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        return self._session(row) if row else None

    def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int = 50,
    ) -> list[Session]:
        where, args = [], []
        if status:
            where.append("status = ?")
            args.append(status)
        if backlog_id:
            where.append("backlog_id = ?")
            args.append(backlog_id)
        if tag:
            where.append("EXISTS (SELECT 1 FROM json_each(sessions.tags) WHERE value = ?)")
            args.append(tag)
        sql = "SELECT * FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, rowid DESC LIMIT ?"
        return [self._session(row) for row in self.conn.execute(sql, (*args, limit))]

    def paused_by_idle(self, session_id: str) -> bool:
        """True when the idle timer paused the session (the next activity resumes it)."""
        row = self._session_row(session_id)
        return row["status"] == "paused" and bool(row["paused_by_idle"])

    def claim_branch(self, branch: str | None) -> tuple[bool, str | None]:
        """Record ``branch`` (None: detached HEAD) as the one checked out. Returns
        ``(switched, previous)``: ``switched`` is True for exactly one caller per switch
        (compare and set in one transaction), which then applies it. The first branch
        ever seen is only recorded."""
        value = branch or ""
        seen = self.conn.execute("SELECT value FROM meta WHERE key = 'branch'").fetchone()
        if seen is not None and seen[0] == value:
            return False, None  # the common case, without taking the write lock
        with self._tx() as conn:
            seen = conn.execute("SELECT value FROM meta WHERE key = 'branch'").fetchone()
            if seen is not None and seen[0] == value:
                return False, None
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('branch', ?)", (value,))
        return seen is not None, (seen[0] or None) if seen is not None else None

    def note_change(self, session_id: str, change: str) -> None:
        with self._tx():
            self._record(session_id, change)

    def publish(self, change: str, session_id: str | None, payload: str) -> None:
        """Put a push that carries its own params (``activity``, ``summary``) on the change
        feed, for other processes' clients."""
        with self._tx():
            self._record(session_id or "", change, None, payload)

    def idle_sessions(
        self, now: datetime, *, statuses: Sequence[str] = ("active", "paused")
    ) -> list[Session]:
        """Open sessions whose last activity is older than their idle timeout."""
        marks = ",".join("?" * len(statuses))
        rows = self.conn.execute(
            f"SELECT * FROM sessions WHERE status IN ({marks})", tuple(statuses)
        ).fetchall()
        return [
            self._session(row)
            for row in rows
            if (now - parse_iso(row["last_activity_at"])).total_seconds() > self._idle_timeout(row)
        ]

    def counts(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT COUNT(*) AS total, SUM(status = 'active') AS active,"
            " SUM(status = 'paused') AS paused FROM sessions"
        ).fetchone()
        return {"total": row["total"], "active": row["active"] or 0, "paused": row["paused"] or 0}

    # -- parts of a write (the caller holds write()) ------------------------------------

    def open_session(self, backlog_id: str) -> Session | None:
        """The open session of a backlog item (at most one: the sessions_open_backlog index)."""
        row = self._open_row(backlog_id)
        return self._session(row) if row is not None else None

    def open_on_branch(self, branch: str | None) -> Session | None:
        """The open session without a backlog item on ``branch``, the one used last."""
        row = self.conn.execute(
            "SELECT * FROM sessions WHERE backlog_id IS NULL AND branch IS ?"
            " AND status != 'completed' ORDER BY used_at DESC, rowid DESC LIMIT 1",
            (branch,),
        ).fetchone()
        return self._session(row) if row is not None else None

    def active_sessions(self, but: str | None = None) -> list[Session]:
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'active' AND id IS NOT ?", (but,)
        ).fetchall()
        return [self._session(row) for row in rows]

    def open_count(self) -> int:
        """Sessions active or paused."""
        return int(
            self.conn.execute("SELECT COUNT(*) FROM sessions WHERE status != 'completed'").fetchone()[0]
        )

    def insert_session(
        self,
        *,
        backlog_id: str | None,
        title: str,
        branch: str | None,
        tags: Sequence[str],
        type: str,
        priority: str,
        now: str,
    ) -> str:
        """A new active session; its id."""
        session_id = new_session_id()
        self.conn.execute(
            "INSERT INTO sessions (id, backlog_id, title, branch, root, status, tags, type,"
            " priority, started_at, last_activity_at, used_at, idle_timeout)"
            " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                backlog_id,
                title,
                branch,
                str(self.root),
                json.dumps(list(tags)),
                type,
                priority,
                now,
                now,
                now,
                self.idle_timeout,
            ),
        )
        self._record(session_id, "started")
        return session_id

    def set_fields(
        self,
        session_id: str,
        *,
        title: str | None = None,
        tags: Sequence[str] | None = None,
        type: str | None = None,
        priority: str | None = None,
    ) -> None:
        """Change what is given (None: unchanged) and tell the feed ``updated``."""
        values = {"title": title, "type": type, "priority": priority}
        values["tags"] = json.dumps(list(tags)) if tags is not None else None
        for column, value in values.items():
            if value is not None:
                self.conn.execute(f"UPDATE sessions SET {column} = ? WHERE id = ?", (value, session_id))
        self._record(session_id, "updated")

    def set_status(self, session_id: str, status: str, now: str) -> None:
        """Move a session to ``status`` and tell the feed (resumed, paused or stopped)."""
        self.conn.execute(
            "UPDATE sessions SET status = ?, ended_at = ?, paused_by_idle = 0 WHERE id = ?",
            (status, now if status == "completed" else None, session_id),
        )
        self._record(session_id, {"active": "resumed", "paused": "paused", "completed": "stopped"}[status])

    def end_span(self, session_id: str) -> None:
        """The session's span of active time ends (it was paused or stopped)."""
        end_span(self.conn, session_id)

    def mark_paused_by_idle(self, session_id: str) -> None:
        """The idle timer paused it: the next activity resumes it."""
        self.conn.execute("UPDATE sessions SET paused_by_idle = 1 WHERE id = ?", (session_id,))

    def set_branch(self, session_id: str, branch: str | None) -> None:
        """Re-bind a session to ``branch`` and tell the feed ``branchChanged``."""
        self.conn.execute("UPDATE sessions SET branch = ? WHERE id = ?", (branch, session_id))
        self._record(session_id, "branchChanged")

    def touch(self, session_id: str, now: str) -> None:
        """The session was used now (what makes it current when the branch names none)."""
        self._touch(session_id, now)

    def add_system_entry(self, session_id: str, text: str, now: str, *, pulse: bool) -> Entry:
        """A lifecycle entry; ``pulse``: the moment counts as active time."""
        entry_id = self._insert_entry(session_id, "system", text, (), now, pulse=pulse)
        return self._entries_by_id([entry_id])[0]
