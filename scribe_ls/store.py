"""The canonical store: ``<root>/.scribe/scribe.db``, SQLite in WAL mode. SQL only.

Synchronous on purpose: a CLI verb calls it directly (no event loop to start for one
row), and the async service runs the very same methods in one thread that owns the
connection (:mod:`scribe_ls.async_store`). Other processes (the CLI, a second editor) open
the same file; SQLite's locking makes that safe and every write is one ``BEGIN IMMEDIATE``
transaction, so a read-check-write (idempotent start, the active-session limit) cannot
interleave with another process's.

An entry is acknowledged only after its transaction committed with ``synchronous=FULL``.

Every change also lands in the ``changes`` table in the same transaction: a change feed
that lets a process tell clients about writes made by other processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from .errors import InvalidParams, LimitReached, SessionNotFound, StoreUnavailable
from .layout import Layout
from .model import Entry, Overlap, SearchHit, Session, SessionStats, SessionSummary, iso, parse_iso, utc_now
from .schema import SCHEMA_VERSION
from .storefile import Transaction, open_store
from .worklog import WorklogItem

# The change feed only has to cover the gap between a write and the other processes
# noticing it; keep it short.
CHANGES_KEPT = 5000


class StartResult(NamedTuple):
    session: Session
    created: bool
    resumed: bool


class Change(NamedTuple):
    """A row of the change feed."""

    id: int
    origin: str
    session_id: str
    entry_id: int | None
    change: str
    payload: str | None = None


def new_session_id() -> str:
    return "s-" + os.urandom(6).hex()


class Store:
    def __init__(self, root: Path, *, origin: str = "", layout: Layout | None = None) -> None:
        self.root = root
        self.layout = layout or Layout(root)
        self.dir = self.layout.dir
        self.path = self.layout.db_path
        self.origin = origin
        self._conn: sqlite3.Connection | None = None
        # Why the store cannot be used at all (set when open fails), or why it can only be
        # read; and what open found and did (a damaged file moved aside), for the user.
        self.unavailable: str | None = None
        self.read_only: str | None = None
        self.notices: list[str] = []

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(self.unavailable or "the store is closed")
        return self._conn

    def _tx(self) -> Transaction:
        if self.read_only is not None:
            raise StoreUnavailable(
                f"the store is read-only ({self.read_only}); reads work, writes do not. "
                f"Make {self.dir} writable (or free disk space), then restart scribe-ls"
            )
        return Transaction(self.conn)

    def open(self, *, thorough: bool = False) -> None:
        """Open (creating if needed) and migrate; see :mod:`scribe_ls.storefile`. A store
        that cannot be used raises StoreUnavailable, and every later call repeats why."""
        try:
            opened = open_store(self.layout, thorough=thorough)
        except StoreUnavailable as exc:
            self.unavailable = exc.detail
            raise
        self._conn, self.read_only, self.notices = opened.conn, opened.read_only, opened.notices

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- rows -> types ------------------------------------------------------------------------

    def _session(self, row: sqlite3.Row, now: datetime | None = None) -> Session:
        active_seconds = row["active_seconds"]
        if row["status"] == "active" and row["active_since"]:
            now = now or utc_now()
            active_seconds += max(0.0, (now - parse_iso(row["active_since"])).total_seconds())
        return Session(
            id=row["id"],
            backlog_id=row["backlog_id"],
            title=row["title"],
            branch=row["branch"],
            root=row["root"],
            status=row["status"],
            tags=tuple(json.loads(row["tags"])),
            type=row["type"],
            priority=row["priority"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            last_activity_at=row["last_activity_at"],
            idle_timeout=row["idle_timeout"],
            stats=SessionStats(
                entries=row["entry_count"],
                files_changed=row["file_count"],
                active_seconds=int(active_seconds),
            ),
            worklog_path=str(self.layout.worklog_path(row["backlog_id"] or row["id"])),
        )

    @staticmethod
    def _entry(row: sqlite3.Row) -> Entry:
        return Entry(
            id=row["id"],
            session_id=row["session_id"],
            at=row["at"],
            kind=row["kind"],
            text=row["text"],
            files=tuple(json.loads(row["files"])),
        )

    def _session_row(self, session_id: str) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise SessionNotFound(session_id)
        return row

    def _record(
        self, session_id: str, change: str, entry_id: int | None = None, payload: str | None = None
    ) -> None:
        self.conn.execute(
            "INSERT INTO changes (at, origin, session_id, entry_id, change, payload)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (iso(utc_now()), self.origin, session_id, entry_id, change, payload),
        )

    def _insert_entry(
        self,
        session_id: str,
        kind: str,
        text: str,
        files: Sequence[str],
        at: str,
        stat_files: Sequence[str] = (),
        request_id: str | None = None,
    ) -> int:
        """Insert an entry; ``stat_files`` are further paths that count as changed (an
        activity entry lists ten paths but every changed path counts in the stats)."""
        cursor = self.conn.execute(
            "INSERT INTO entries (session_id, at, kind, text, files, request_id) VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, at, kind, text, json.dumps(list(files)), request_id),
        )
        entry_id = cursor.lastrowid
        assert entry_id is not None
        new_files = 0
        for path in dict.fromkeys([*files, *stat_files]):
            new_files += self.conn.execute(
                "INSERT OR IGNORE INTO session_files (session_id, path) VALUES (?, ?)",
                (session_id, path),
            ).rowcount
        self.conn.execute(
            "UPDATE sessions SET entry_count = entry_count + 1, file_count = file_count + ?,"
            " last_activity_at = ? WHERE id = ?",
            (new_files, at, session_id),
        )
        self._record(session_id, "entryAdded", entry_id)
        return entry_id

    def _entries_by_id(self, ids: Iterable[int]) -> list[Entry]:
        ids = list(ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT * FROM entries WHERE id IN ({marks}) ORDER BY id", ids)
        return [self._entry(row) for row in rows]

    # -- sessions -------------------------------------------------------------------------

    def start_session(
        self,
        *,
        backlog_id: str | None,
        title: str,
        branch: str | None,
        tags: Sequence[str],
        type: str,
        priority: str,
        idle_timeout: int,
        max_active: int,
        start_texts: Sequence[str],
    ) -> tuple[StartResult, list[Entry]]:
        now = iso(utc_now())
        with self._tx() as conn:
            if backlog_id is not None:
                row = conn.execute(
                    "SELECT * FROM sessions WHERE backlog_id = ? AND status != 'completed'",
                    (backlog_id,),
                ).fetchone()
                if row is not None and row["status"] == "active":
                    return StartResult(self._session(row), created=False, resumed=False), []
                if row is not None:  # paused: starting it again resumes it
                    self._check_limit(max_active)
                    entries = self._set_status(row, "active", "Session resumed", now)
                    return StartResult(
                        self._session(self._session_row(row["id"])), created=False, resumed=True
                    ), entries
            self._check_limit(max_active)
            session_id = new_session_id()
            conn.execute(
                "INSERT INTO sessions (id, backlog_id, title, branch, root, status, tags, type,"
                " priority, started_at, last_activity_at, active_since, idle_timeout)"
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
                    idle_timeout,
                ),
            )
            self._record(session_id, "started")
            entry_ids = [self._insert_entry(session_id, "system", t, (), now) for t in start_texts]
            session = self._session(self._session_row(session_id))
            return StartResult(session, created=True, resumed=False), self._entries_by_id(entry_ids)

    def _check_limit(self, max_active: int) -> None:
        active = self.conn.execute("SELECT COUNT(*) FROM sessions WHERE status = 'active'").fetchone()[0]
        if active >= max_active:
            raise LimitReached(max_active)

    def _set_status(self, row: sqlite3.Row, status: str, text: str, now: str) -> list[Entry]:
        """Move a session to ``status``, keeping active time exact, with a system entry."""
        active_seconds = row["active_seconds"]
        if row["status"] == "active" and row["active_since"]:
            active_seconds += max(0.0, (parse_iso(now) - parse_iso(row["active_since"])).total_seconds())
        self.conn.execute(
            "UPDATE sessions SET status = ?, active_seconds = ?, active_since = ?, ended_at = ? WHERE id = ?",
            (
                status,
                active_seconds,
                now if status == "active" else None,
                now if status == "completed" else None,
                row["id"],
            ),
        )
        change = {"active": "resumed", "paused": "paused", "completed": "stopped"}[status]
        self._record(row["id"], change)
        entry_id = self._insert_entry(row["id"], "system", text, (), now)
        return self._entries_by_id([entry_id])

    def get_session(self, session_id: str) -> Session:
        return self._session(self._session_row(session_id))

    def current_session(self) -> Session | None:
        row = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'active' ORDER BY started_at DESC, rowid DESC LIMIT 1"
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
        now = utc_now()
        return [self._session(row, now) for row in self.conn.execute(sql, (*args, limit))]

    def update_session(
        self,
        session_id: str,
        *,
        status: str | None,
        title: str | None,
        add_tags: Sequence[str],
        remove_tags: Sequence[str],
        max_active: int,
    ) -> tuple[Session, list[str], list[Entry]]:
        """Returns the session, the changes made (sessionChanged names) and new entries."""
        now = iso(utc_now())
        changes: list[str] = []
        entries: list[Entry] = []
        with self._tx() as conn:
            row = self._session_row(session_id)
            if status is not None and status != row["status"]:
                if row["status"] == "completed":
                    raise InvalidParams("status", f"session {session_id} is completed; start a new one")
                if status == "active":
                    self._check_limit(max_active)
                text = "Session resumed" if status == "active" else "Session paused"
                entries += self._set_status(row, status, text, now)
                changes.append("resumed" if status == "active" else "paused")
            tags = list(json.loads(row["tags"]))
            new_tags = [t for t in tags if t not in remove_tags]
            new_tags += [t for t in add_tags if t not in new_tags]
            updated = False
            if new_tags != tags:
                conn.execute("UPDATE sessions SET tags = ? WHERE id = ?", (json.dumps(new_tags), session_id))
                updated = True
            if title is not None and title != row["title"]:
                conn.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))
                updated = True
            if updated:
                self._record(session_id, "updated")
                changes.append("updated")
            return self._session(self._session_row(session_id)), changes, entries

    def stop_session(self, session_id: str, text: str = "Session stopped") -> tuple[Session, list[Entry]]:
        now = iso(utc_now())
        with self._tx():
            row = self._session_row(session_id)
            if row["status"] == "completed":
                return self._session(row), []
            entries = self._set_status(row, "completed", text, now)
            return self._session(self._session_row(session_id)), entries

    def pause_idle(self, session_id: str, text: str, now: datetime) -> tuple[Session, list[Entry]] | None:
        """Pause an active session that is still idle (checked in the same transaction);
        None if it is not active or saw activity meanwhile."""
        with self._tx() as conn:
            row = self._session_row(session_id)
            idle = (now - parse_iso(row["last_activity_at"])).total_seconds() > row["idle_timeout"]
            if row["status"] != "active" or not idle:
                return None
            entries = self._set_status(row, "paused", text, iso(now))
            conn.execute("UPDATE sessions SET paused_by_idle = 1 WHERE id = ?", (session_id,))
            return self._session(self._session_row(session_id)), entries

    def idle_paused_session(self) -> Session | None:
        """The most recently started session the idle timer paused (resumed by activity)."""
        row = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'paused' AND paused_by_idle = 1"
            " ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ).fetchone()
        return self._session(row) if row else None

    def set_branch(self, session_id: str, branch: str | None) -> tuple[Session, list[Entry]]:
        """Re-bind a session to the branch now checked out (a ``branchChanged``)."""
        now = iso(utc_now())
        with self._tx() as conn:
            self._session_row(session_id)
            conn.execute("UPDATE sessions SET branch = ? WHERE id = ?", (branch, session_id))
            self._record(session_id, "branchChanged")
            entry_id = self._insert_entry(session_id, "system", f"Branch: {branch or '(detached)'}", (), now)
            return self._session(self._session_row(session_id)), self._entries_by_id([entry_id])

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
            self._session(row, now)
            for row in rows
            if (now - parse_iso(row["last_activity_at"])).total_seconds() > row["idle_timeout"]
        ]

    def counts(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT COUNT(*) AS total, SUM(status = 'active') AS active,"
            " SUM(status = 'paused') AS paused FROM sessions"
        ).fetchone()
        return {"total": row["total"], "active": row["active"] or 0, "paused": row["paused"] or 0}

    # -- entries --------------------------------------------------------------------------

    def append_entry(
        self,
        session_id: str,
        kind: str,
        text: str,
        files: Sequence[str],
        stat_files: Sequence[str] = (),
        *,
        request_id: str | None = None,
    ) -> Entry:
        """Append an entry (durable on return). With a ``request_id`` seen before, the entry
        stored then is returned and nothing is added: a client that lost the answer to an
        append (a crash, a dropped connection) can retry it safely."""
        now = iso(utc_now())
        with self._tx() as conn:
            if request_id is not None:
                row = conn.execute("SELECT * FROM entries WHERE request_id = ?", (request_id,)).fetchone()
                if row is not None:
                    return self._entry(row)
            self._session_row(session_id)
            entry_id = self._insert_entry(session_id, kind, text, files, now, stat_files, request_id)
        return Entry(id=entry_id, session_id=session_id, at=now, kind=kind, text=text, files=tuple(files))

    def get_entries(
        self, session_id: str, *, after_id: int = 0, limit: int = 100, kinds: Sequence[str] = ()
    ) -> tuple[list[Entry], int | None]:
        self._session_row(session_id)
        sql = "SELECT * FROM entries WHERE session_id = ? AND id > ?"
        args: list[Any] = [session_id, after_id]
        if kinds:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += kinds
        sql += " ORDER BY id LIMIT ?"
        rows = self.conn.execute(sql, (*args, limit + 1)).fetchall()
        entries = [self._entry(row) for row in rows[:limit]]
        next_after = entries[-1].id if len(rows) > limit else None
        return entries, next_after

    def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        self._session_row(session_id)
        rows = self.conn.execute(
            "SELECT * FROM entries WHERE session_id = ? ORDER BY id DESC LIMIT ?", (session_id, limit)
        ).fetchall()
        return [self._entry(row) for row in reversed(rows)]

    def summary_counts(self, session_id: str, per_kind: int = 5) -> SessionSummary:
        """What a session amounts to: counts and the latest decisions, ideas and todos."""
        row = self._session_row(session_id)
        latest: dict[str, tuple[str, ...]] = {}
        for kind in ("decision", "idea", "todo"):
            texts = self.conn.execute(
                "SELECT text FROM entries WHERE session_id = ? AND kind = ? ORDER BY id DESC LIMIT ?",
                (session_id, kind, per_kind),
            ).fetchall()
            latest[kind] = tuple(t[0][:300] for t in reversed(texts))
        return SessionSummary(
            entries=row["entry_count"],
            files_changed=row["file_count"],
            decisions=latest["decision"],
            ideas=latest["idea"],
            todos=latest["todo"],
        )

    def overlapping_sessions(self, session_id: str | None, max_files: int = 50) -> list[Overlap]:
        """Other active sessions, each with the files both it and ``session_id`` touched."""
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'active' AND id != ? ORDER BY started_at DESC",
            (session_id or "",),
        ).fetchall()
        others = []
        for row in rows:
            shared = self.conn.execute(
                "SELECT a.path FROM session_files a JOIN session_files b ON a.path = b.path"
                " WHERE a.session_id = ? AND b.session_id = ? ORDER BY a.path LIMIT ?",
                (row["id"], session_id or "", max_files),
            ).fetchall()
            others.append(
                Overlap(
                    row["id"], row["backlog_id"], row["title"], row["branch"], tuple(r[0] for r in shared)
                )
            )
        return others

    def search(self, query: str, limit: int) -> list[SearchHit]:
        # Quote every word (user text must never be parsed as FTS5 syntax), each a prefix:
        # "colo" finds "colour" as well as "colo".
        words = [w for w in query.split() if w]
        match = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        rows = self.conn.execute(
            "SELECT e.*, s.backlog_id AS backlog_id,"
            " snippet(entries_fts, 0, '**', '**', '…', 12) AS snippet"
            " FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE entries_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
        return [SearchHit(self._entry(row), row["backlog_id"], row["snippet"]) for row in rows]

    # -- change feed ------------------------------------------------------------------------

    def last_change_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0]

    def changes_since(self, change_id: int, limit: int = 500) -> list[Change]:
        rows = self.conn.execute(
            "SELECT * FROM changes WHERE id > ? ORDER BY id LIMIT ?", (change_id, limit)
        ).fetchall()
        return [
            Change(r["id"], r["origin"], r["session_id"], r["entry_id"], r["change"], r["payload"])
            for r in rows
        ]

    def sessions_and_entries(self, key: str) -> tuple[list[Session], list[Entry]]:
        """Every session of a worklog key (backlog id, else session id) and all their
        entries, oldest first: what a summary is made of."""
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE backlog_id = ? OR (backlog_id IS NULL AND id = ?)"
            " ORDER BY started_at",
            (key, key),
        ).fetchall()
        now = utc_now()
        sessions = [self._session(row, now) for row in rows]
        entries = self.conn.execute(
            f"SELECT * FROM entries WHERE session_id IN ({','.join('?' * len(sessions))}) ORDER BY id",
            [session.id for session in sessions],
        ).fetchall()
        return sessions, [self._entry(row) for row in entries]

    def entries_by_id(self, ids: Sequence[int]) -> list[Entry]:
        return self._entries_by_id(ids)

    def prune_changes(self) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - ?", (CHANGES_KEPT,))

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" probe."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # -- worklogs ---------------------------------------------------------------------------

    def worklog_items(self, key: str, *, after_id: int = 0) -> list[tuple[int, WorklogItem]]:
        """Entries of a worklog key (backlog id, else session id) past ``after_id``, with ids."""
        rows = self.conn.execute(
            "SELECT e.id, e.at, e.kind, e.text, e.files FROM entries e"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE (s.backlog_id = ? OR (s.backlog_id IS NULL AND s.id = ?)) AND e.id > ?"
            " ORDER BY e.id",
            (key, key, after_id),
        ).fetchall()
        return [
            (
                row["id"],
                WorklogItem(
                    at=parse_iso(row["at"]),
                    kind=row["kind"],
                    text=row["text"],
                    files=tuple(json.loads(row["files"])),
                ),
            )
            for row in rows
        ]

    def last_entry_per_key(self) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT COALESCE(s.backlog_id, s.id) AS key, MAX(e.id) AS last FROM sessions s"
            " JOIN entries e ON e.session_id = s.id GROUP BY key"
        ).fetchall()
        return {row["key"]: row["last"] for row in rows}

    def worklog_keys(self) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT COALESCE(backlog_id, id) AS key FROM sessions ORDER BY key")
        return [row["key"] for row in rows]

    def integrity_check(self) -> list[str]:
        problems = [row[0] for row in self.conn.execute("PRAGMA integrity_check")]
        problems = [p for p in problems if p != "ok"]
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
        orphans = self.conn.execute(
            "SELECT COUNT(*) FROM entries WHERE session_id NOT IN (SELECT id FROM sessions)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} entries belong to no session")
        for row in self.conn.execute(
            "SELECT s.id, s.entry_count, COUNT(e.id) AS n FROM sessions s"
            " LEFT JOIN entries e ON e.session_id = s.id GROUP BY s.id HAVING s.entry_count != n"
        ):
            problems.append(f"session {row['id']}: entry count {row['entry_count']} but {row['n']} entries")
        return problems

    # -- import -----------------------------------------------------------------------------

    def import_session(
        self,
        *,
        backlog_id: str,
        title: str,
        tags: Sequence[str],
        type: str,
        priority: str,
        idle_timeout: int,
        items: Sequence[WorklogItem],
        started_at: str,
        last_activity_at: str,
        redact: Callable[[str], str],
    ) -> Session | None:
        """Add a completed session rebuilt from a legacy worklog; None if already imported."""
        with self._tx() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sessions WHERE backlog_id = ? AND started_at = ?", (backlog_id, started_at)
            ).fetchone()
            if exists:
                return None
            session_id = new_session_id()
            conn.execute(
                "INSERT INTO sessions (id, backlog_id, title, branch, root, status, tags, type,"
                " priority, started_at, ended_at, last_activity_at, idle_timeout)"
                " VALUES (?, ?, ?, NULL, ?, 'completed', ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    backlog_id,
                    title,
                    str(self.root),
                    json.dumps(list(tags)),
                    type,
                    priority,
                    started_at,
                    last_activity_at,
                    last_activity_at,
                    idle_timeout,
                ),
            )
            for item in items:
                files = tuple(redact(path) for path in item.files)
                self._insert_entry(session_id, item.kind, redact(item.text), files, iso(item.at))
            conn.execute(
                "UPDATE sessions SET last_activity_at = ? WHERE id = ?", (last_activity_at, session_id)
            )
            self._record(session_id, "stopped")
            return self._session(self._session_row(session_id))
