"""The canonical store: ``<root>/.scribe/scribe.db``, SQLite in WAL mode. SQL only.

Synchronous on purpose: a CLI verb calls it directly (no event loop to start for one
row), and the async service runs the very same methods in one thread that owns the
connection (:mod:`scribe_ls.store.threaded`). Other processes (the CLI, a second editor) open
the same file; SQLite's locking makes that safe and every write is one ``BEGIN IMMEDIATE``
transaction, so a read-check-write (idempotent start, the active-session limit) cannot
interleave with another process's.

An entry is acknowledged only after its transaction committed with ``synchronous=FULL``.

Every change also lands in the ``changes`` table in the same transaction: a change feed
that lets a process tell clients about writes made by other processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from pathlib import Path
from time import monotonic
from typing import Any, NamedTuple

from ..core.timesheet import CLOCK_STEP, IDLE_GAP, Pulse, TimeRow, apply_pulse, end_span, time_rows
from ..errors import InvalidParams, LimitReached, SessionNotFound, StoreUnavailable
from ..model import Entry, Overlap, SearchHit, Session, SessionStats, SessionSummary, iso, parse_iso, utc_now
from ..worklog.format import WorklogItem
from .layout import Layout
from .opening import Savepoint, Transaction, open_store
from .schema import SCHEMA_VERSION

# The change feed only has to cover the gap between a write and the other processes
# noticing it; keep it short.
CHANGES_KEPT = 5000


# What a write did to one session: the session after it, the sessionChanged name
# (started, resumed, paused, stopped, updated, branchChanged) and the entries it added.
Touched = tuple[Session, str, list[Entry]]


MAX_PULSE_CLOCKS = 256  # sessions whose last pulse's clocks are kept (bounded)


class StartResult(NamedTuple):
    session: Session
    # started, resumed (it was paused), updated (open, and something given changed) or
    # rejoined (open, nothing changed)
    change: str
    touched: list[Touched]  # in order: sessions paused for it first, then the session


class Change(NamedTuple):
    """A row of the change feed."""

    id: int
    origin: str
    session_id: str
    entry_id: int | None
    change: str
    payload: str | None = None


class ForeignChanges(NamedTuple):
    """One read of the change feed for a relay (:meth:`Store.foreign_changes`)."""

    version: int
    last_id: int
    changes: list[Change]
    entries: dict[int, Entry]
    sessions: dict[str, Session]


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
        # The idle timeout of sessions that did not set their own: the config's, set by
        # whoever holds the config (a changed value applies to open sessions too).
        self.idle_timeout = 1800
        # What ends a span of active time (the config's idle_gap), and the zone whose
        # calendar days the roll-ups count in (None: this machine's).
        self.idle_gap: float = IDLE_GAP
        # Each session's last live pulse here: (wall clock, monotonic clock), to see the
        # wall clock being set between two pulses (timesheet.apply_pulse's steady_gap).
        self._pulse_clocks: dict[str, tuple[float, float]] = {}
        self.tz: tzinfo | None = None
        self._opened_blocks: set[str] = set()
        self._grouped = False  # in grouped(): a write is a savepoint of the group's transaction

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreUnavailable(self.unavailable or "the store is closed")
        return self._conn

    def _tx(self) -> Transaction | Savepoint:
        # A new write: the first entry it adds to each session opens a worklog block.
        self._opened_blocks = set()
        self._check_writable()
        return Savepoint(self.conn) if self._grouped else Transaction(self.conn)

    def _check_writable(self) -> None:
        if self.read_only is not None:
            raise StoreUnavailable(
                f"the store is read-only ({self.read_only}); reads work, writes do not. "
                f"Make {self.dir} writable (or free disk space), then restart scribe-ls"
            )

    @contextlib.contextmanager
    def grouped(self) -> Iterator[None]:
        """Writes made inside share one transaction: one commit, one fsync for all of
        them (group commit). Each is still all or nothing on its own (a savepoint); none
        is durable before the block ends without an exception."""
        if self._grouped:
            raise RuntimeError("grouped() does not nest")
        with self._tx():
            self._grouped = True
            try:
                yield
            finally:
                self._grouped = False

    def open(self, *, thorough: bool = False) -> None:
        """Open (creating if needed) and migrate; see :mod:`scribe_ls.store.opening`. A store
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

    def _session(self, row: sqlite3.Row) -> Session:
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
            idle_timeout=self._idle_timeout(row),
            stats=SessionStats(
                entries=row["entry_count"],
                files_changed=row["file_count"],
                active_seconds=int(row["active_seconds"]),
            ),
            worklog_path=str(self.layout.worklog_path(row["backlog_id"] or row["id"])),
        )

    def _idle_timeout(self, row: sqlite3.Row) -> int:
        own = row["own_idle_timeout"]
        return own if own is not None else self.idle_timeout

    @staticmethod
    def _entry(row: sqlite3.Row) -> Entry:
        return Entry(
            id=row["id"],
            session_id=row["session_id"],
            at=row["at"],
            kind=row["kind"],
            text=row["text"],
            files=tuple(json.loads(row["files"])),
            author=row["author"],
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
        opens_block: bool | None = None,
        pulse: bool | None = None,
        author: str | None = None,
    ) -> int:
        """Insert an entry; ``stat_files`` are further paths that count as changed (an
        activity entry lists ten paths but every changed path counts in the stats).
        ``opens_block``: None for the write's first entry of the session. ``pulse``: the
        entry is a moment of activity (time per item); None: unless it is a system entry,
        whose callers say (a start is, an idle pause is not)."""
        if opens_block is None:
            opens_block = session_id not in self._opened_blocks
            self._opened_blocks.add(session_id)
        cursor = self.conn.execute(
            "INSERT INTO entries (session_id, at, kind, text, files, request_id, opens_block, author)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (session_id, at, kind, text, json.dumps(list(files)), request_id, int(opens_block), author),
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
        if pulse if pulse is not None else kind != "system":
            self._pulse(session_id, parse_iso(at).timestamp(), live=True)
        return entry_id

    def _pulse(self, session_id: str, at: float, *, live: bool = False) -> None:
        """Credit the session with a pulse at ``at``. ``live``: stamped by this process's
        clock just now; then the gap since its previous live pulse here is also measured
        with the monotonic clock, and where the wall clock was set meanwhile (back, or
        ahead), the monotonic gap is what counts."""
        steady_gap = None
        # A time written "now" by a caller recreating history is not this clock's reading.
        if live and abs(at - utc_now().timestamp()) <= CLOCK_STEP:
            now = monotonic()
            previous = self._pulse_clocks.pop(session_id, None)
            if previous is not None and abs((at - previous[0]) - (now - previous[1])) > CLOCK_STEP:
                steady_gap = now - previous[1]
            self._pulse_clocks[session_id] = (at, now)
            if len(self._pulse_clocks) > MAX_PULSE_CLOCKS:
                self._pulse_clocks.pop(next(iter(self._pulse_clocks)))
        row = self.conn.execute(
            "SELECT backlog_id, branch FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        pulse = Pulse(session_id, row["backlog_id"] or session_id, row["branch"] or "", at)
        added = apply_pulse(self.conn, pulse, self.idle_gap, self.tz, steady_gap=steady_gap)
        if added:
            self.conn.execute(
                "UPDATE sessions SET active_seconds = active_seconds + ? WHERE id = ?", (added, session_id)
            )

    def heartbeat(self, session_id: str, at: datetime | None = None) -> Session:
        """An editor says the developer is at work in the session now (focus, typing): a
        pulse of active time and activity for the idle timer, without an entry."""
        moment = at or utc_now()
        with self._tx() as conn:
            self._session_row(session_id)
            self._pulse(session_id, moment.timestamp(), live=at is None)
            conn.execute(
                "UPDATE sessions SET last_activity_at = MAX(last_activity_at, ?) WHERE id = ?",
                (iso(moment), session_id),
            )
            return self._session(self._session_row(session_id))

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
        branch: str | None,
        title: str | None,
        default_title: str,
        tags: Sequence[str],
        type: str | None,
        priority: str | None,
        defaults: tuple[str, str],
        max_open: int,
        start_texts: Sequence[str],
    ) -> StartResult:
        """Start a session, or rejoin the open one of the same backlog item (without a
        backlog id: the open one without one on the same branch), applying what was given
        (``title``, ``tags`` added, ``type``, ``priority``; None: not given). A paused one
        is resumed. Whatever else was active is paused first: one session is worked on."""
        now = iso(utc_now())
        with self._tx() as conn:
            if backlog_id is not None:
                row = self._open_row(backlog_id)
            else:
                row = conn.execute(
                    "SELECT * FROM sessions WHERE backlog_id IS NULL AND branch IS ?"
                    " AND status != 'completed' ORDER BY used_at DESC, rowid DESC LIMIT 1",
                    (branch,),
                ).fetchone()
            if row is not None:
                return self._rejoin(row, title, tags, type, priority, now)
            touched = self._pause_others(None, backlog_id or default_title, now)
            self._check_limit(max_open)
            session_id = new_session_id()
            conn.execute(
                "INSERT INTO sessions (id, backlog_id, title, branch, root, status, tags, type,"
                " priority, started_at, last_activity_at, used_at, idle_timeout)"
                " VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    backlog_id,
                    title or default_title,
                    branch,
                    str(self.root),
                    json.dumps(list(tags)),
                    type or defaults[0],
                    priority or defaults[1],
                    now,
                    now,
                    now,
                    self.idle_timeout,
                ),
            )
            self._record(session_id, "started")
            entry_ids = [
                self._insert_entry(session_id, "system", t, (), now, pulse=True) for t in start_texts
            ]
            session = self._session(self._session_row(session_id))
            touched.append((session, "started", self._entries_by_id(entry_ids)))
            return StartResult(session, "started", touched)

    def _rejoin(
        self,
        row: sqlite3.Row,
        title: str | None,
        tags: Sequence[str],
        type: str | None,
        priority: str | None,
        now: str,
    ) -> StartResult:
        touched: list[Touched] = []
        change = "rejoined"
        if row["status"] == "paused":
            touched += self._activate(row, "Session resumed", now)
            change = "resumed"
        old_tags = list(json.loads(row["tags"]))
        new_values = {
            "title": title if title is not None else row["title"],
            "tags": json.dumps(old_tags + [t for t in tags if t not in old_tags]),
            "type": type if type is not None else row["type"],
            "priority": priority if priority is not None else row["priority"],
        }
        updated = any(new_values[name] != row[name] for name in new_values)
        if updated:
            self.conn.execute(
                "UPDATE sessions SET title = :title, tags = :tags, type = :type, priority = :priority"
                " WHERE id = :id",
                {**new_values, "id": row["id"]},
            )
            self._record(row["id"], "updated")
        self._touch(row["id"], now)
        session = self._session(self._session_row(row["id"]))
        if updated:
            touched.append((session, "updated", []))
            change = "updated" if change == "rejoined" else change
        return StartResult(session, change, touched)

    def _touch(self, session_id: str, now: str) -> None:
        """The session was used now (what makes it current when the branch names none)."""
        self.conn.execute("UPDATE sessions SET used_at = ? WHERE id = ?", (now, session_id))

    def _activate(self, row: sqlite3.Row, text: str, now: str) -> list[Touched]:
        """Make a paused session active, pausing whatever else was active first."""
        touched = self._pause_others(row["id"], row["backlog_id"] or row["title"], now)
        entries = self._set_status(row, "active", text, now, pulse=True)
        self._touch(row["id"], now)
        touched.append((self._session(self._session_row(row["id"])), "resumed", entries))
        return touched

    def _pause_others(self, session_id: str | None, switched_to: str, now: str) -> list[Touched]:
        """Pause every active session but ``session_id``: a root has one work tree, and the
        session being worked on is the one its activity belongs to."""
        touched: list[Touched] = []
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE status = 'active' AND id IS NOT ?", (session_id,)
        ).fetchall()
        for other in rows:
            text = f"Session paused; switched to {switched_to}"
            entries = self._set_status(other, "paused", text, now, pulse=False)
            touched.append((self._session(self._session_row(other["id"])), "paused", entries))
        return touched

    def _check_limit(self, max_open: int) -> None:
        """Open sessions (active or paused) are bounded: one more is refused at the limit."""
        count = self.conn.execute("SELECT COUNT(*) FROM sessions WHERE status != 'completed'").fetchone()[0]
        if count >= max_open:
            raise LimitReached(max_open)

    def _set_status(self, row: sqlite3.Row, status: str, text: str, now: str, *, pulse: bool) -> list[Entry]:
        """Move a session to ``status``, with a system entry; ``pulse``: the developer did
        it (counts as active time), not a timer or another session's start."""
        self.conn.execute(
            "UPDATE sessions SET status = ?, ended_at = ?, paused_by_idle = 0 WHERE id = ?",
            (status, now if status == "completed" else None, row["id"]),
        )
        change = {"active": "resumed", "paused": "paused", "completed": "stopped"}[status]
        self._record(row["id"], change)
        entry_id = self._insert_entry(row["id"], "system", text, (), now, pulse=pulse)
        if status != "active":
            end_span(self.conn, row["id"])
        return self._entries_by_id([entry_id])

    def get_session(self, session_id: str) -> Session:
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

    def update_session(
        self,
        session_id: str,
        *,
        status: str | None,
        title: str | None,
        add_tags: Sequence[str],
        remove_tags: Sequence[str],
    ) -> tuple[Session, list[Touched]]:
        """Returns the session and what changed, in order (resuming one pauses the
        session that was active)."""
        now = iso(utc_now())
        touched: list[Touched] = []
        with self._tx() as conn:
            row = self._session_row(session_id)
            if status is not None and status != row["status"]:
                if row["status"] == "completed":
                    raise InvalidParams("status", f"session {session_id} is completed; start a new one")
                if status == "active":
                    touched += self._activate(row, "Session resumed", now)
                else:
                    entries = self._set_status(row, "paused", "Session paused", now, pulse=True)
                    touched.append((self._session(self._session_row(session_id)), "paused", entries))
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
                self._touch(session_id, now)
            session = self._session(self._session_row(session_id))
            if updated:
                touched.append((session, "updated", []))
            return session, touched

    def stop_session(
        self, session_id: str, text: str = "Session stopped", *, pulse: bool = True
    ) -> tuple[Session, list[Entry]]:
        now = iso(utc_now())
        with self._tx():
            row = self._session_row(session_id)
            if row["status"] == "completed":
                return self._session(row), []
            entries = self._set_status(row, "completed", text, now, pulse=pulse)
            return self._session(self._session_row(session_id)), entries

    def pause_idle(self, session_id: str, text: str, now: datetime) -> tuple[Session, list[Entry]] | None:
        """Pause an active session that is still idle (checked in the same transaction);
        None if it is not active or saw activity meanwhile."""
        with self._tx() as conn:
            row = self._session_row(session_id)
            idle = (now - parse_iso(row["last_activity_at"])).total_seconds() > self._idle_timeout(row)
            if row["status"] != "active" or not idle:
                return None
            entries = self._set_status(row, "paused", text, iso(now), pulse=False)
            conn.execute("UPDATE sessions SET paused_by_idle = 1 WHERE id = ?", (session_id,))
            return self._session(self._session_row(session_id)), entries

    def paused_by_idle(self, session_id: str) -> bool:
        """True when the idle timer paused the session (the next activity resumes it)."""
        row = self._session_row(session_id)
        return row["status"] == "paused" and bool(row["paused_by_idle"])

    def set_branch(self, session_id: str, branch: str | None) -> tuple[Session, list[Entry]]:
        """Re-bind a session to the branch now checked out (a ``branchChanged``)."""
        now = iso(utc_now())
        with self._tx() as conn:
            self._session_row(session_id)
            conn.execute("UPDATE sessions SET branch = ? WHERE id = ?", (branch, session_id))
            self._touch(session_id, now)
            self._record(session_id, "branchChanged")
            text = f"Branch: {branch or '(detached)'}"
            entry_id = self._insert_entry(session_id, "system", text, (), now, pulse=True)
            return self._session(self._session_row(session_id)), self._entries_by_id([entry_id])

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
        author: str | None = None,
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
            entry_id = self._insert_entry(
                session_id, kind, text, files, now, stat_files, request_id, author=author
            )
            self._touch(session_id, now)
        return Entry(entry_id, session_id, now, kind, text, tuple(files), author)

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

    def overlapping_sessions(
        self, session_id: str | None, *, paths: Sequence[str] | None = None, max_files: int = 50
    ) -> list[Overlap]:
        """Other open sessions, each with the files both it and ``session_id`` touched; or,
        given ``paths`` (what a session of a linked worktree touched), every open session
        with those of the paths it touched."""
        rows = self.conn.execute(
            "SELECT * FROM sessions WHERE status != 'completed' AND id != ? ORDER BY started_at DESC",
            (session_id or "",),
        ).fetchall()
        if paths is None:
            mine, key = "SELECT path FROM session_files WHERE session_id = ?", session_id or ""
        else:  # one parameter whatever the number of paths (no SQL variable limit)
            mine, key = "SELECT value FROM json_each(?)", json.dumps(list(paths))
        others = []
        for row in rows:
            shared = self.conn.execute(
                f"SELECT path FROM session_files WHERE session_id = ? AND path IN ({mine})"
                " ORDER BY path LIMIT ?",
                (row["id"], key, max_files),
            ).fetchall()
            others.append(
                Overlap(
                    row["id"],
                    row["backlog_id"],
                    row["title"],
                    row["branch"],
                    str(self.root),
                    tuple(r[0] for r in shared),
                )
            )
        return others

    def session_paths(self, session_id: str, limit: int) -> list[str]:
        """Paths a session touched (at most ``limit``)."""
        rows = self.conn.execute(
            "SELECT path FROM session_files WHERE session_id = ? ORDER BY path LIMIT ?", (session_id, limit)
        ).fetchall()
        return [row[0] for row in rows]

    def search(self, query: str, limit: int) -> list[SearchHit]:
        """Entries where every word of ``query`` is a word (whole-word matches, newest
        first), then, if those are fewer than ``limit``, where every word starts one
        ("colo" finds "colour"; newest first).

        Newest first, not bm25: FTS5 ranks by scoring every match, so a common word cost
        O(matches) (12x from 10k to 1M entries), while walking the index from its newest
        rowid stops after ``limit`` matches. The prefix pass runs only when the whole words
        did not fill the page, because a prefix merges every term it starts."""
        words = [w for w in query.split() if w]
        # Every word quoted: user text is never parsed as FTS5 syntax.
        quoted = ['"' + w.replace('"', '""') + '"' for w in words]
        hits: dict[int, str] = {}
        for match in (" ".join(quoted), " ".join(q + "*" for q in quoted)):
            rows = self.conn.execute(
                # -1: the snippet of whichever column matched, the text or the files.
                "SELECT rowid, snippet(entries_fts, -1, '**', '**', '…', 12) FROM entries_fts"
                " WHERE entries_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
                (match, limit + len(hits)),
            ).fetchall()
            for rowid, snippet in rows:
                if len(hits) < limit:
                    hits.setdefault(rowid, snippet)
            if len(hits) >= limit:
                break
        if not hits:
            return []
        marks = ",".join("?" * len(hits))
        rows = self.conn.execute(
            "SELECT e.*, s.backlog_id AS backlog_id FROM entries e JOIN sessions s ON s.id = e.session_id"
            f" WHERE e.id IN ({marks})",
            list(hits),
        ).fetchall()
        by_id = {row["id"]: row for row in rows}
        return [
            SearchHit(self._entry(by_id[rowid]), by_id[rowid]["backlog_id"], snippet)
            for rowid, snippet in hits.items()
            if rowid in by_id
        ]

    def sessions_touching(self, paths: Sequence[str], exclude: str | None) -> list[tuple[Session, list[str]]]:
        """Open sessions (but ``exclude``) that touched any of ``paths``, with those paths."""
        if not paths:
            return []
        marks = ",".join("?" * len(paths))
        rows = self.conn.execute(
            "SELECT sf.session_id, sf.path FROM session_files sf JOIN sessions s ON s.id = sf.session_id"
            f" WHERE s.status != 'completed' AND s.id IS NOT ? AND sf.path IN ({marks}) ORDER BY sf.path",
            (exclude, *paths),
        ).fetchall()
        touched: dict[str, list[str]] = {}
        for row in rows:
            touched.setdefault(row[0], []).append(row[1])
        return [(self.get_session(session_id), files) for session_id, files in touched.items()]

    # -- time ---------------------------------------------------------------------------------

    def time_rows(self, since: date, until: date, by: str) -> list[TimeRow]:
        """Active time of ``[since, until]`` (local days) from the daily roll-ups."""
        return time_rows(self.conn, since, until, by)

    def item_titles(self, items: Iterable[str]) -> dict[str, str]:
        """The title of each worklog key's latest session."""
        titles: dict[str, str] = {}
        for item in items:
            row = self.conn.execute(
                "SELECT title FROM sessions WHERE backlog_id = ? OR (backlog_id IS NULL AND id = ?)"
                " ORDER BY started_at DESC LIMIT 1",
                (item, item),
            ).fetchone()
            titles[item] = row["title"] if row else item
        return titles

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
        sessions = [self._session(row) for row in rows]
        entries = self.conn.execute(
            f"SELECT * FROM entries WHERE session_id IN ({','.join('?' * len(sessions))}) ORDER BY id",
            [session.id for session in sessions],
        ).fetchall()
        return sessions, [self._entry(row) for row in entries]

    def prune_changes(self) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM changes WHERE id <= (SELECT MAX(id) FROM changes) - ?", (CHANGES_KEPT,))

    def data_version(self) -> int:
        """Changes whenever another connection commits: a cheap "anything new?" probe."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def foreign_changes(
        self, after_id: int, seen_version: int, origin: str, limit: int = 500
    ) -> ForeignChanges:
        """What other processes committed past ``after_id``, with what a relay needs to
        tell about them (their entries and sessions), in one visit to the store: nothing
        when ``data_version`` is still ``seen_version`` (only our own commits, or none)."""
        version = self.data_version()
        if version == seen_version:
            return ForeignChanges(version, after_id, [], {}, {})
        changes = self.changes_since(after_id, limit)
        last = changes[-1].id if changes else after_id
        foreign = [c for c in changes if c.origin != origin]
        entries = {
            e.id: e for e in self._entries_by_id(c.entry_id for c in foreign if c.entry_id is not None)
        }
        sessions: dict[str, Session] = {}
        for change in foreign:
            if change.entry_id is None and change.session_id not in sessions:
                try:
                    sessions[change.session_id] = self.get_session(change.session_id)
                except SessionNotFound:
                    continue
        # A full page: more may wait; the caller asks again (the version is not taken yet).
        return ForeignChanges(
            version if len(changes) < limit else seen_version, last, foreign, entries, sessions
        )

    # -- worklogs ---------------------------------------------------------------------------

    def worklog_items(self, key: str, *, after_id: int = 0) -> list[tuple[int, WorklogItem]]:
        """Entries of a worklog key (backlog id, else session id) past ``after_id``, with ids."""
        rows = self.conn.execute(
            "SELECT e.id, e.at, e.kind, e.text, e.files, e.opens_block, e.author FROM entries e"
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
                    opens_block=bool(row["opens_block"]),
                    author=row["author"],
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

    def last_entry_of(self, key: str) -> int:
        """The newest entry id of the worklog ``key`` (0: none)."""
        row = self.conn.execute(
            "SELECT MAX(e.id) FROM sessions s JOIN entries e ON e.session_id = s.id"
            " WHERE COALESCE(s.backlog_id, s.id) = ?",
            (key,),
        ).fetchone()
        return int(row[0] or 0)

    def worklog_keys(self) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT COALESCE(backlog_id, id) AS key FROM sessions ORDER BY key")
        return [row["key"] for row in rows]

    def size_report(self) -> dict[str, Any]:
        """How big the store is and how much of it is free pages (fragmentation): the
        database, its WAL, entries, and bytes per entry."""
        page_size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        entries = self.conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        wal = self.layout.stat(self.path.with_name(self.path.name + "-wal"))
        db_bytes = page_size * pages
        return {
            "bytes": db_bytes,
            "walBytes": wal.st_size if wal is not None else 0,
            "freeBytes": page_size * free,
            "freePercent": round(100 * free / pages, 1) if pages else 0.0,
            "entries": entries,
            "bytesPerEntry": round(db_bytes / entries) if entries else None,
        }

    # -- compaction ---------------------------------------------------------------------------

    def session_ids(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT id FROM sessions ORDER BY started_at")]

    def activity_before(self, session_id: str, before: str) -> list[Entry]:
        """A session's activity entries written before ``before`` (ISO time), oldest first."""
        rows = self.conn.execute(
            "SELECT * FROM entries WHERE session_id = ? AND kind = 'activity' AND at < ? ORDER BY id",
            (session_id, before),
        )
        return [self._entry(row) for row in rows]

    def roll_up(
        self, session_id: str, keep_id: int, text: str, files: Sequence[str], drop: Sequence[int]
    ) -> None:
        """Entry ``keep_id`` becomes the roll-up (``text``, ``files``) of itself and the
        entries ``drop``, which go; the search index follows through its triggers."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE entries SET text = ?, files = ?"
                " WHERE id = ? AND session_id = ? AND kind = 'activity'",
                (text, json.dumps(list(files)), keep_id, session_id),
            )
            for start in range(0, len(drop), 500):
                chunk = drop[start : start + 500]
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    f"DELETE FROM entries WHERE session_id = ? AND kind = 'activity' AND id IN ({marks})",
                    (session_id, *chunk),
                )
            conn.execute(
                "UPDATE sessions SET entry_count = entry_count - ? WHERE id = ?", (len(drop), session_id)
            )

    def vacuum_step(self, pages: int) -> int | None:
        """Give up to ``pages`` free pages back to the file system (incremental vacuum, a
        short write of its own); the free pages left, or None for a store made before
        auto_vacuum was incremental: it keeps its free pages until :meth:`vacuum`."""
        if self.conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            return None
        with self._tx() as conn:
            conn.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
        return int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])

    def vacuum(self) -> None:
        """Rewrite the whole file without its free pages, and make later vacuums incremental
        (one long write: other processes' writes wait for it)."""
        self._check_writable()
        self.conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self.conn.execute("VACUUM")

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
        branch: str | None,
        tags: Sequence[str],
        type: str,
        priority: str,
        own_idle_timeout: int | None,
        items: Sequence[WorklogItem],
        started_at: str,
        ended_at: str,
        active_seconds: float,
        redact: Callable[[str], str],
    ) -> Session | None:
        """Add a completed session rebuilt from a legacy worklog, its blocks kept as they
        were; None if already imported."""
        with self._tx() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sessions WHERE backlog_id = ? AND started_at = ?", (backlog_id, started_at)
            ).fetchone()
            if exists:
                return None
            session_id = new_session_id()
            conn.execute(
                "INSERT INTO sessions (id, backlog_id, title, branch, root, status, tags, type, priority,"
                " started_at, ended_at, last_activity_at, used_at, idle_timeout, own_idle_timeout,"
                " active_seconds) VALUES (?, ?, ?, ?, ?, 'completed', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    backlog_id,
                    title,
                    branch,
                    str(self.root),
                    json.dumps(list(tags)),
                    type,
                    priority,
                    started_at,
                    ended_at,
                    ended_at,
                    ended_at,
                    own_idle_timeout or self.idle_timeout,
                    own_idle_timeout,
                    active_seconds,
                ),
            )
            # Every write of the legacy tool was a moment of activity, and it counted the gaps
            # between writes up to its idle timeout: the same spans, with that as the gap.
            idle_gap, self.idle_gap = self.idle_gap, own_idle_timeout or self.idle_timeout
            try:
                for item in items:
                    files = tuple(redact(path) for path in item.files)
                    text, at = redact(item.text), iso(item.at)
                    self._insert_entry(
                        session_id, item.kind, text, files, at, opens_block=item.opens_block, pulse=True
                    )
            finally:
                self.idle_gap = idle_gap
            conn.execute(
                "UPDATE sessions SET last_activity_at = ?, active_seconds = ? WHERE id = ?",
                (ended_at, active_seconds, session_id),
            )
            self._record(session_id, "stopped")
            return self._session(self._session_row(session_id))
