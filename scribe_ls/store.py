"""The canonical store: ``<root>/.scribe/scribe.db``, SQLite in WAL mode.

Every call runs in one dedicated thread that owns the connection, so nothing here blocks
the event loop and no two statements of this process race each other. Other processes
(the CLI, a second editor) open the same file; SQLite's locking makes that safe and every
write is one ``BEGIN IMMEDIATE`` transaction, so a read-check-write (idempotent start, the
active-session limit) cannot interleave with another process's.

An entry is acknowledged only after its transaction committed with ``synchronous=FULL``.

Every change also lands in the ``changes`` table in the same transaction: a change feed
that lets a process tell clients about writes made by other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from . import worklog
from .errors import InvalidParams, LimitReached, SessionNotFound, StoreUnavailable
from .layout import DB_NAME, DB_SIDE_FILES, WORKLOGS, Layout, UnsafeStore
from .protocol import Entry, Session, SessionStats, iso, parse_iso, utc_now

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3

# Each migration moves the schema from version N-1 to N. Never edit a released one.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        backlog_id TEXT,
        title TEXT NOT NULL,
        branch TEXT,
        root TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'completed')),
        tags TEXT NOT NULL DEFAULT '[]',
        type TEXT NOT NULL,
        priority TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        last_activity_at TEXT NOT NULL,
        active_since TEXT,
        active_seconds REAL NOT NULL DEFAULT 0,
        idle_timeout INTEGER NOT NULL,
        entry_count INTEGER NOT NULL DEFAULT 0,
        file_count INTEGER NOT NULL DEFAULT 0
    );
    -- One open (active or paused) session per backlog item: what makes start idempotent
    -- even when two processes start the same item at the same moment.
    CREATE UNIQUE INDEX sessions_open_backlog ON sessions(backlog_id)
        WHERE status != 'completed' AND backlog_id IS NOT NULL;
    CREATE INDEX sessions_started ON sessions(started_at);

    CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        files TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX entries_session ON entries(session_id, id);

    CREATE TABLE session_files (
        session_id TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (session_id, path)
    ) WITHOUT ROWID;

    CREATE TABLE changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        origin TEXT NOT NULL,
        session_id TEXT NOT NULL,
        entry_id INTEGER,
        change TEXT NOT NULL
    );

    CREATE VIRTUAL TABLE entries_fts USING fts5(text, content='entries', content_rowid='id');
    CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
    2: """
    -- scribe/activity batches travel to other processes through the change feed.
    ALTER TABLE changes ADD COLUMN payload TEXT;
    -- Paused by the idle timer (resumes on the next activity), not by the user.
    ALTER TABLE sessions ADD COLUMN paused_by_idle INTEGER NOT NULL DEFAULT 0;
    """,
    3: """
    -- The store itself refuses kinds it does not know (SQLite cannot add a CHECK to a
    -- table, so the table is rebuilt, ids kept), and a client's request id makes a
    -- retried append return the entry stored the first time.
    CREATE TABLE entries_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL
            CHECK (kind IN ('note', 'decision', 'idea', 'todo', 'activity', 'commit', 'system')),
        text TEXT NOT NULL,
        files TEXT NOT NULL DEFAULT '[]',
        request_id TEXT
    );
    INSERT INTO entries_v3 (id, session_id, at, kind, text, files)
        SELECT id, session_id, at, kind, text, files FROM entries;
    DROP TABLE entries;
    ALTER TABLE entries_v3 RENAME TO entries;
    CREATE INDEX entries_session ON entries(session_id, id);
    CREATE UNIQUE INDEX entries_request ON entries(request_id) WHERE request_id IS NOT NULL;
    CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
}

# The change feed only has to cover the gap between a write and the other processes
# noticing it; keep it short.
CHANGES_KEPT = 5000
OPEN_TIMEOUT = 15.0

P = ParamSpec("P")
R = TypeVar("R")


def off_loop(fn: Callable[..., R]) -> Callable[..., Any]:
    """Turn a blocking method into a coroutine that runs it in the store's thread."""

    @functools.wraps(fn)
    async def wrapper(self: Store, *args: Any, **kwargs: Any) -> R:
        return await self._run(fn, self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True, slots=True)
class StartResult:
    session: Session
    created: bool
    resumed: bool


@dataclass(frozen=True, slots=True)
class Change:
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
    def __init__(self, root: Path, *, origin: str = "") -> None:
        self.root = root
        self.layout = Layout(root)
        self.dir = self.layout.dir
        self.path = self.layout.db_path
        self.origin = origin
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-store")
        self._conn: sqlite3.Connection | None = None
        # Why the store cannot be used at all (set when open fails), or why it can only be
        # read; and what open found and did (a damaged file moved aside), for the user.
        self.unavailable: str | None = None
        self.read_only: str | None = None
        self.notices: list[str] = []
        # Store operations queued or running in the store thread (reported by scribe/status).
        self.pending = 0
        # key -> (last entry id, last heading, rendered text): lets a render append the new
        # entries instead of rendering the whole worklog again on every append.
        self._rendered: dict[str, tuple[int, str, str]] = {}

    # -- plumbing ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        loop = asyncio.get_running_loop()
        self.pending += 1
        try:
            return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        except sqlite3.DatabaseError as exc:  # OperationalError included
            raise StoreUnavailable(_with_hint(str(exc), self.dir)) from exc
        finally:
            self.pending -= 1

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(self.unavailable or "the store is closed")
        return self._conn

    def _tx(self) -> _Transaction:
        if self.read_only is not None:
            raise StoreUnavailable(
                f"the store is read-only ({self.read_only}); reads work, writes do not. "
                f"Make {self.dir} writable (or free disk space), then restart scribe-ls"
            )
        return _Transaction(self.conn)

    @off_loop
    def open(self, *, thorough: bool = False) -> None:
        """Open (creating if needed) and migrate.

        A file that is not a readable scribe store (bad header, failing probes, and with
        ``thorough`` a failing ``quick_check``) is moved aside and a new store is made; a
        store that can be read but not written is opened read-only. What happened is in
        :attr:`notices`; a store that cannot be used at all raises StoreUnavailable, and
        every later call repeats why.
        """
        try:
            self._open(thorough)
        except StoreUnavailable as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self.unavailable = exc.detail
            raise

    def _open(self, thorough: bool) -> None:
        try:
            self.layout.ensure()
            self.layout.check_db_files()
        except UnsafeStore as exc:
            raise StoreUnavailable(str(exc)) from exc
        except OSError as exc:
            raise StoreUnavailable(_with_hint(f"cannot create {self.dir}: {exc.strerror}", self.dir)) from exc
        if _read_only_mount(self.dir):
            # SQLite would open it and fail at the first write: say so now, serve reads.
            self._open_read_only("the file system is mounted read-only")
            return
        if (problem := _header_problem(self.path)) is not None:
            self._quarantine(problem)
        try:
            self._connect_and_migrate()
            self._probe(thorough)
        except sqlite3.OperationalError as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if not _cannot_write(exc):
                raise StoreUnavailable(_with_hint(str(exc), self.dir)) from exc
            self._open_read_only(str(exc))
        except _Damaged as exc:
            self._quarantine(str(exc))
            self._connect_and_migrate()

    def _connect_and_migrate(self) -> None:
        # Several processes may create the store at the same moment. Switching to WAL and
        # migrating take locks for which SQLite does not always call the busy handler, so
        # retry those few steps for a bounded time instead of failing the first open.
        deadline = time.monotonic() + OPEN_TIMEOUT
        while True:
            try:
                self._conn = self._connect()
                self._migrate()
                return
            except sqlite3.DatabaseError as exc:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                if not isinstance(exc, sqlite3.OperationalError):
                    raise _Damaged(str(exc)) from exc  # "file is not a database", "malformed"
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _probe(self, thorough: bool) -> None:
        """Touch what every request needs, so damage shows now and not as failing writes."""
        try:
            self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            self.conn.execute("SELECT id FROM sessions LIMIT 1").fetchall()
            self.conn.execute("SELECT id FROM entries ORDER BY id DESC LIMIT 1").fetchall()
            self._probe_search_index()
            if thorough:
                result = self.conn.execute("PRAGMA quick_check").fetchall()
                if [row[0] for row in result] != ["ok"]:
                    raise _Damaged(f"quick_check: {result[0][0]}")
        except sqlite3.OperationalError as exc:
            if _cannot_write(exc) or "locked" in str(exc):
                raise
            raise _Damaged(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise _Damaged(str(exc)) from exc

    def _probe_search_index(self) -> None:
        """The FTS index is derived from ``entries``: damage there (every write fails in
        its constructor) is repaired by rebuilding it, keeping every entry."""
        probe = "SELECT rowid FROM entries_fts WHERE entries_fts MATCH 'scribe' LIMIT 1"
        try:
            self.conn.execute(probe).fetchall()
            return
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        with self._tx() as conn:
            # A damaged config row stops even 'rebuild'; FTS5 keeps its format version there.
            conn.execute("DELETE FROM entries_fts_config")
            conn.execute("INSERT INTO entries_fts_config (k, v) VALUES ('version', 4)")
            conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('rebuild')")
        self.conn.execute(probe).fetchall()
        message = f"the search index of {self.path} was damaged ({problem}); it was rebuilt from the entries"
        log.warning("%s", message)
        self.notices.append(message)

    def _quarantine(self, problem: str) -> None:
        """Move a damaged store (and the worklogs rendered from it, the readable copy of its
        data) aside under a dated name, so a new store can start."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        moved = []
        for suffix in ("", *DB_SIDE_FILES):
            source = self.dir / f"{DB_NAME}{suffix}"
            with contextlib.suppress(FileNotFoundError):
                os.rename(source, self.dir / f"{DB_NAME}.corrupt-{stamp}{suffix}")
                moved.append(source.name)
        worklogs = f"{WORKLOGS}.corrupt-{stamp}"
        with contextlib.suppress(FileNotFoundError, OSError):
            os.rename(self.layout.worklog_dir, self.dir / worklogs)
            self.layout.reset()
            self.layout.ensure()
        message = (
            f"{self.path} was damaged ({problem}) and was moved aside as {DB_NAME}.corrupt-{stamp}; "
            f"a new, empty store was made. Its worklogs are in .scribe/{worklogs}: "
            f"`scribe-ls import .scribe/{worklogs}` brings their sessions back"
        )
        log.error("%s", message)
        self.notices.append(message)

    def _open_read_only(self, reason: str) -> None:
        """Serve reads from a store that cannot be written (read-only disk, full disk)."""
        if not self.path.exists():
            raise StoreUnavailable(_with_hint(f"cannot create {self.path}: {reason}", self.dir))
        uri = f"file:{urllib.parse.quote(str(self.path))}"
        for query in ("?mode=ro", "?mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(uri + query, uri=True, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
            except sqlite3.DatabaseError:
                continue
            if version != SCHEMA_VERSION:
                conn.close()
                raise StoreUnavailable(
                    f"{self.path} is read-only ({reason}) and has schema version {version}, "
                    f"not {SCHEMA_VERSION}: make {self.dir} writable so it can be upgraded"
                )
            self._conn = conn
            self.read_only = reason
            message = f"{self.path} is read-only ({reason}): reads work, writes are refused"
            log.warning("%s", message)
            self.notices.append(message)
            return
        raise StoreUnavailable(_with_hint(f"cannot open {self.path}: {reason}", self.dir))

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before we acknowledge the entry it carries.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"{self.path} has schema version {version}; this scribe-ls knows up to "
                f"{SCHEMA_VERSION}: upgrade scribe-ls"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx() as conn:
                # Another process may have migrated while we waited for the write lock.
                if conn.execute("PRAGMA user_version").fetchone()[0] >= target:
                    continue
                for statement in _split_sql(MIGRATIONS[target]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
            log.info("store %s migrated to schema version %d", self.path, target)

    @off_loop
    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def shutdown_thread(self) -> None:
        self._executor.shutdown(wait=True)

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

    @off_loop
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

    @off_loop
    def get_session(self, session_id: str) -> Session:
        return self._session(self._session_row(session_id))

    @off_loop
    def current_session(self) -> Session | None:
        row = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'active' ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ).fetchone()
        return self._session(row) if row else None

    @off_loop
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

    @off_loop
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

    @off_loop
    def stop_session(self, session_id: str, text: str = "Session stopped") -> tuple[Session, list[Entry]]:
        now = iso(utc_now())
        with self._tx():
            row = self._session_row(session_id)
            if row["status"] == "completed":
                return self._session(row), []
            entries = self._set_status(row, "completed", text, now)
            return self._session(self._session_row(session_id)), entries

    @off_loop
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

    @off_loop
    def idle_paused_session(self) -> Session | None:
        """The most recently started session the idle timer paused (resumed by activity)."""
        row = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'paused' AND paused_by_idle = 1"
            " ORDER BY started_at DESC, rowid DESC LIMIT 1"
        ).fetchone()
        return self._session(row) if row else None

    @off_loop
    def set_branch(self, session_id: str, branch: str | None) -> tuple[Session, list[Entry]]:
        """Re-bind a session to the branch now checked out (a ``branchChanged``)."""
        now = iso(utc_now())
        with self._tx() as conn:
            self._session_row(session_id)
            conn.execute("UPDATE sessions SET branch = ? WHERE id = ?", (branch, session_id))
            self._record(session_id, "branchChanged")
            entry_id = self._insert_entry(session_id, "system", f"Branch: {branch or '(detached)'}", (), now)
            return self._session(self._session_row(session_id)), self._entries_by_id([entry_id])

    @off_loop
    def note_change(self, session_id: str, change: str) -> None:
        with self._tx():
            self._record(session_id, change)

    @off_loop
    def publish(self, change: str, session_id: str | None, payload: str) -> None:
        """Put a push that carries its own params (``activity``, ``summary``) on the change
        feed, for other processes' clients."""
        with self._tx():
            self._record(session_id or "", change, None, payload)

    @off_loop
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

    @off_loop
    def counts(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT COUNT(*) AS total, SUM(status = 'active') AS active,"
            " SUM(status = 'paused') AS paused FROM sessions"
        ).fetchone()
        return {"total": row["total"], "active": row["active"] or 0, "paused": row["paused"] or 0}

    # -- entries --------------------------------------------------------------------------

    @off_loop
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

    @off_loop
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

    @off_loop
    def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        self._session_row(session_id)
        rows = self.conn.execute(
            "SELECT * FROM entries WHERE session_id = ? ORDER BY id DESC LIMIT ?", (session_id, limit)
        ).fetchall()
        return [self._entry(row) for row in reversed(rows)]

    @off_loop
    def summary_counts(self, session_id: str, per_kind: int = 5) -> dict[str, Any]:
        """What a session amounts to: counts and the latest decisions, ideas and todos."""
        row = self._session_row(session_id)
        result: dict[str, Any] = {"entries": row["entry_count"], "filesChanged": row["file_count"]}
        for kind, key in (("decision", "decisions"), ("idea", "ideas"), ("todo", "todos")):
            texts = self.conn.execute(
                "SELECT text FROM entries WHERE session_id = ? AND kind = ? ORDER BY id DESC LIMIT ?",
                (session_id, kind, per_kind),
            ).fetchall()
            result[key] = [t[0][:300] for t in reversed(texts)]
        return result

    @off_loop
    def overlapping_sessions(self, session_id: str | None, max_files: int = 50) -> list[dict[str, Any]]:
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
                {
                    "id": row["id"],
                    "backlogId": row["backlog_id"],
                    "title": row["title"],
                    "branch": row["branch"],
                    "sharedFiles": [r[0] for r in shared],
                }
            )
        return others

    @off_loop
    def search(self, query: str, limit: int) -> list[tuple[Entry, str | None, str]]:
        # Quote every word: user text must never be parsed as FTS5 syntax.
        words = [w for w in query.split() if w]
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = self.conn.execute(
            "SELECT e.*, s.backlog_id AS backlog_id,"
            " snippet(entries_fts, 0, '**', '**', '…', 12) AS snippet"
            " FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE entries_fts MATCH ? ORDER BY rank LIMIT ?",
            (match, limit),
        ).fetchall()
        return [(self._entry(row), row["backlog_id"], row["snippet"]) for row in rows]

    # -- change feed ------------------------------------------------------------------------

    @off_loop
    def last_change_id(self) -> int:
        return self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0]

    @off_loop
    def changes_since(self, change_id: int, limit: int = 500) -> list[Change]:
        rows = self.conn.execute(
            "SELECT * FROM changes WHERE id > ? ORDER BY id LIMIT ?", (change_id, limit)
        ).fetchall()
        return [
            Change(r["id"], r["origin"], r["session_id"], r["entry_id"], r["change"], r["payload"])
            for r in rows
        ]

    @off_loop
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

    @off_loop
    def entries_by_id(self, ids: Sequence[int]) -> list[Entry]:
        return self._entries_by_id(ids)

    @off_loop
    def prune_changes(self) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - ?", (CHANGES_KEPT,))

    @off_loop
    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" probe."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # -- worklogs ---------------------------------------------------------------------------

    def worklog_path(self, key: str) -> Path:
        return self.layout.worklog_path(key)

    def _worklog_rows(self, key: str, after_id: int) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT e.id, e.at, e.kind, e.text, e.files FROM entries e"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE (s.backlog_id = ? OR (s.backlog_id IS NULL AND s.id = ?)) AND e.id > ?"
            " ORDER BY e.id",
            (key, key, after_id),
        ).fetchall()

    def _load_render_state(self, key: str) -> tuple[int, str, str]:
        """What a previous render (maybe by another process) left on disk, if the worklog
        is still exactly the file it wrote; else nothing, and we render from scratch."""
        try:
            state = json.loads(self.layout.read_text(self.layout.render_state_path(key)) or "{}")
            path = self.worklog_path(key)
            stat = self.layout.stat(path)
            if stat is None or (stat.st_size, stat.st_mtime_ns) != (state["size"], state["mtimeNs"]):
                return 0, "", ""
            return int(state["lastId"]), str(state["lastHeading"]), self.layout.read_text(path) or ""
        except (OSError, ValueError, KeyError, TypeError):
            return 0, "", ""

    def _save_render_state(self, key: str, last_id: int, last_heading: str) -> None:
        stat = self.layout.stat(self.worklog_path(key))
        if stat is None:
            return
        state = {
            "lastId": last_id,
            "lastHeading": last_heading,
            "size": stat.st_size,
            "mtimeNs": stat.st_mtime_ns,
        }
        self.layout.write_atomic(self.layout.render_state_path(key), json.dumps(state))

    def _render_text(self, key: str) -> tuple[int, str, str]:
        """The worklog for ``key`` as it should be now, appending to the last render."""
        last_id, last_heading, text = self._rendered.get(key) or self._load_render_state(key)
        rows = self._worklog_rows(key, last_id)
        items = _worklog_items(rows)
        if not text:
            text = worklog.render(key, items)
        elif items:
            text = worklog.append(text, last_heading, items)
        if items:
            last_id, last_heading = rows[-1]["id"], worklog.heading_time(items[-1].at)
        return last_id, last_heading, text

    @off_loop
    def render_worklog(self, key: str) -> Path:
        path = self.worklog_path(key)
        with self.layout.locked(self.layout.render_lock_path):
            # Entries other processes added since our last render have higher ids, so
            # appending everything past our last id is always the full, correct worklog.
            last_id, last_heading, text = self._render_text(key)
            self.layout.write_atomic(path, text)
            self._save_render_state(key, last_id, last_heading)
            self._rendered[key] = (last_id, last_heading, text)
        return path

    @off_loop
    def stale_worklog_keys(self) -> list[str]:
        """Worklogs whose last render (its state file) ended before the store's newest
        entry of that key, or that are missing: what a crash can leave behind."""
        rows = self.conn.execute(
            "SELECT COALESCE(s.backlog_id, s.id) AS key, MAX(e.id) AS last FROM sessions s"
            " JOIN entries e ON e.session_id = s.id GROUP BY key"
        ).fetchall()
        stale = []
        for row in rows:
            try:
                state = json.loads(self.layout.read_text(self.layout.render_state_path(row["key"])) or "{}")
                behind = int(state.get("lastId", 0)) < row["last"]
            except (OSError, ValueError, TypeError, AttributeError):
                behind = True
            if behind or self.layout.stat(self.worklog_path(row["key"])) is None:
                stale.append(row["key"])
        return stale

    @off_loop
    def worklog_keys(self) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT COALESCE(backlog_id, id) AS key FROM sessions ORDER BY key")
        return [row["key"] for row in rows]

    @off_loop
    def expected_worklog(self, key: str) -> str:
        """A full render from the store, ignoring the cache (used by ``validate``)."""
        return worklog.render(key, _worklog_items(self._worklog_rows(key, 0)))

    @off_loop
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

    @off_loop
    def import_session(
        self,
        *,
        backlog_id: str,
        title: str,
        tags: Sequence[str],
        type: str,
        priority: str,
        idle_timeout: int,
        items: Sequence[worklog.WorklogItem],
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
            self._rendered.pop(backlog_id, None)
            return self._session(self._session_row(session_id))


class _Damaged(Exception):
    """The database file is not a readable scribe store."""


_SQLITE_HEADER = b"SQLite format 3\x00"


def _header_problem(path: Path) -> str | None:
    """Why the file at ``path`` cannot be an SQLite database, if its first bytes say so."""
    try:
        with path.open("rb") as handle:
            head = handle.read(100)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if not head:
        return None  # an empty file is an empty database
    if not head.startswith(_SQLITE_HEADER):
        return "its header is not an SQLite header"
    if len(head) < 100:
        return "it is truncated"
    return None


def _read_only_mount(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _cannot_write(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return any(word in text for word in ("readonly", "read-only", "unable to open", "disk i/o", "full"))


def _with_hint(message: str, directory: Path) -> str:
    """An SQLite or OS error, with what the user can do about it."""
    lowered = message.lower()
    if "full" in lowered or "no space" in lowered:
        return f"{message}: the disk is full; free some space and retry"
    if "readonly" in lowered or "read-only" in lowered or "permission" in lowered:
        return f"{message}: {directory} cannot be written; make it writable and retry"
    return message


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: take the write lock up front so the reads inside
    see what the writes will be checked against."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")


def _worklog_items(rows: Iterable[sqlite3.Row]) -> list[worklog.WorklogItem]:
    return [
        worklog.WorklogItem(
            at=parse_iso(row["at"]), kind=row["kind"], text=row["text"], files=tuple(json.loads(row["files"]))
        )
        for row in rows
    ]


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (``sqlite3.complete_statement`` knows triggers)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
