"""The store's connection, transactions and row shapes, shared by its parts.

``<root>/.scribe/scribe.db``, SQLite in WAL mode. Synchronous on purpose: a CLI verb calls it
directly (no event loop to start for one row), and the async service runs the very same
methods in one thread that owns the connection (:mod:`scribe_ls.store.threaded`). Other
processes (the CLI, a second editor) open the same file; SQLite's locking makes that safe
and every write is one ``BEGIN IMMEDIATE`` transaction, so a read-check-write (idempotent
start, the open-session limit) cannot interleave with another process's.

An entry is acknowledged only after its transaction committed with ``synchronous=FULL``.
Every change also lands in the ``changes`` table in the same transaction: a change feed
that lets a process tell clients about writes made by other processes.

SQL and transactions only: what a change means (which session a start rejoins, what is
paused, the texts written) is :mod:`scribe_ls.core.lifecycle`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from time import monotonic

from ..core.timesheet import CLOCK_STEP, IDLE_GAP, Pulse, apply_author_pulse, apply_pulse, author_key
from ..errors import SessionNotFound, StoreUnavailable
from ..model import Entry, Session, SessionStats, iso, parse_iso, utc_now
from .layout import Layout
from .opening import Savepoint, Transaction, open_store

# What a write did to one session: the session after it, the sessionChanged name
# (started, resumed, paused, stopped, updated, branchChanged) and the entries it added.
Touched = tuple[Session, str, list[Entry]]

MAX_PULSE_CLOCKS = 256  # sessions whose last pulse's clocks are kept (bounded)
# The kinds whose files someone changed (the recorder's saves, an agent's edits): the
# file_authors table says who.
CHANGES_FILES = frozenset({"activity", "agent"})


def new_session_id() -> str:
    return "s-" + os.urandom(6).hex()


class StoreBase:
    """The connection and what every part of the store uses (see :class:`~scribe_ls.store.database.Store`)."""

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

    def get_session(self, session_id: str) -> Session:
        return self._session(self._session_row(session_id))

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
        if kind in CHANGES_FILES and (files or stat_files):
            row = self.conn.execute("SELECT backlog_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
            who = author_key(author)
            self.conn.executemany(
                "INSERT OR IGNORE INTO file_authors (item, path, author) VALUES (?, ?, ?)",
                [
                    (row["backlog_id"] or session_id, path, who)
                    for path in dict.fromkeys([*files, *stat_files])
                ],
            )
        self._record(session_id, "entryAdded", entry_id)
        if pulse if pulse is not None else kind != "system":
            self._pulse(session_id, parse_iso(at).timestamp(), live=True, author=author)
        return entry_id

    def _pulse(self, session_id: str, at: float, *, live: bool = False, author: str | None = None) -> None:
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
        apply_author_pulse(self.conn, pulse, author_key(author), self.idle_gap, self.tz)
        if added:
            self.conn.execute(
                "UPDATE sessions SET active_seconds = active_seconds + ? WHERE id = ?", (added, session_id)
            )

    def _entries_by_id(self, ids: Iterable[int]) -> list[Entry]:
        ids = list(ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT * FROM entries WHERE id IN ({marks}) ORDER BY id", ids)
        return [self._entry(row) for row in rows]

    def _touch(self, session_id: str, now: str) -> None:
        """The session was used now (what makes it current when the branch names none)."""
        self.conn.execute("UPDATE sessions SET used_at = ? WHERE id = ?", (now, session_id))

    def write(self) -> Transaction | Savepoint:
        """One write: a transaction of its own, or a savepoint inside :meth:`grouped`. The
        rules (:mod:`scribe_ls.core.lifecycle`) make several changes in one."""
        return self._tx()

    def now(self) -> str:
        """The store's clock, as stored (ISO, UTC): what every write stamps."""
        return iso(utc_now())

    def clock(self) -> datetime:
        """The store's clock (this module's ``utc_now``: the one tests set)."""
        return utc_now()
