"""Opening ``.scribe/scribe.db``: create, migrate, probe, and what to do when it is damaged.

A file that is not a readable scribe store (a bad header, failing probes, and at a
server's open a failing ``quick_check``) is moved aside with the worklogs rendered from it
and a new store is made; a store that can be read but not written is opened read-only.
What happened is told in :attr:`OpenedStore.notices`; a store that cannot be used at all
raises :class:`StoreUnavailable`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import StoreUnavailable
from ..lazylog import get_logger
from ..metrics import METRICS
from ..model import utc_now
from .layout import DB_NAME, DB_SIDE_FILES, WORKLOGS, Layout, UnsafeStore
from .schema import SCHEMA_VERSION, NewerSchema, migrate

log = get_logger(__name__)

OPEN_TIMEOUT = 15.0
_SQLITE_HEADER = b"SQLite format 3\x00"


class OpenedStore(NamedTuple):
    conn: sqlite3.Connection
    # Why it can only be read (a read-only or full disk), or None.
    read_only: str | None
    # What open found and did (a damaged file moved aside, an index rebuilt), for the user.
    notices: list[str]


BUSY_TIMEOUT_MS = 10_000  # how long a statement waits for another process's lock
WRITE_LOCK_FIRST_WAIT = 0.0005  # seconds; then half as long again each try, up to:
WRITE_LOCK_MAX_WAIT = 0.004


class Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``: take the write lock up front so the reads inside
    see what the writes will be checked against.

    The lock is waited for here, in short randomized steps, not by SQLite's busy handler:
    that one sleeps 1, 2, 5, 10, 15, 20, 25 ... 100 ms between tries, so with a few
    processes writing at once most of a writer's time went to sleeping past the moment
    the lock was free."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        conn = self.conn
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        wait = WRITE_LOCK_FIRST_WAIT
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return conn
                except sqlite3.OperationalError as exc:
                    if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                        raise
                # Apart, not in step with the others (random only here: a busy store is rare,
                # and the module costs every CLI verb's start-up).
                import random

                time.sleep(wait * random.uniform(0.5, 1.5))
                wait = min(wait * 1.5, WRITE_LOCK_MAX_WAIT)
        finally:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            started = time.perf_counter()
            self.conn.execute("COMMIT")  # the fsync of synchronous=FULL: the write's cost
            METRICS.observe("store_commit", (time.perf_counter() - started) * 1000)
        else:
            self.conn.execute("ROLLBACK")


class Savepoint:
    """One write inside a group (:meth:`Store.grouped <scribe_ls.store.database.Store.grouped>`):
    a write that fails is undone alone; the others commit with the group."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("SAVEPOINT one_write")
        return self.conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self.conn.execute("ROLLBACK TO one_write")
        self.conn.execute("RELEASE one_write")


@contextlib.contextmanager
def store_errors(directory: Path) -> Iterator[None]:
    """SQLite's errors as :class:`StoreUnavailable`, with what the user can do about them."""
    try:
        yield
    except sqlite3.DatabaseError as exc:  # OperationalError included
        raise StoreUnavailable(with_hint(str(exc), directory)) from exc


def with_hint(message: str, directory: Path) -> str:
    """An SQLite or OS error, with what the user can do about it."""
    lowered = message.lower()
    if "full" in lowered or "no space" in lowered:
        return f"{message}: the disk is full; free some space and retry"
    if "readonly" in lowered or "read-only" in lowered or "permission" in lowered:
        return (
            f"{message}: {directory} cannot be written; make it writable, or keep the store"
            " elsewhere with --store DIR (or $SCRIBE_DIR=DIR), and retry"
        )
    return message


def open_store(layout: Layout, *, thorough: bool = False) -> OpenedStore:
    """Open (creating if needed) and migrate the store of ``layout``."""
    return _Opener(layout).open(thorough)


class _Damaged(Exception):
    """The database file is not a readable scribe store."""


class _Opener:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.dir = layout.dir
        self.path = layout.db_path
        self.conn: sqlite3.Connection | None = None
        self.notices: list[str] = []

    def open(self, thorough: bool) -> OpenedStore:
        try:
            return self._open(thorough)
        except BaseException:
            self._drop()
            raise

    def _open(self, thorough: bool) -> OpenedStore:
        try:
            self.layout.ensure()
            self.layout.check_db_files()
        except UnsafeStore as exc:
            raise StoreUnavailable(str(exc)) from exc
        except OSError as exc:
            raise StoreUnavailable(with_hint(f"cannot create {self.dir}: {exc.strerror}", self.dir)) from exc
        if _read_only_mount(self.dir):
            # SQLite would open it and fail at the first write: say so now, serve reads.
            return self._open_read_only("the file system is mounted read-only")
        if (problem := _header_problem(self.path)) is not None:
            self._quarantine(problem)
        try:
            conn = self._connect_and_migrate()
            self._probe(conn, thorough)
        except sqlite3.OperationalError as exc:
            self._drop()
            if not _cannot_write(exc):
                raise StoreUnavailable(with_hint(str(exc), self.dir)) from exc
            return self._open_read_only(str(exc))
        except _Damaged as exc:
            self._quarantine(str(exc))
            conn = self._connect_and_migrate()
        return OpenedStore(conn, None, self.notices)

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _connect_and_migrate(self) -> sqlite3.Connection:
        # Several processes may create the store at the same moment. Switching to WAL and
        # migrating take locks for which SQLite does not always call the busy handler, so
        # retry those few steps for a bounded time instead of failing the first open.
        deadline = time.monotonic() + OPEN_TIMEOUT
        while True:
            try:
                self.conn = _connect(self.path)
                migrate(self.conn, str(self.path))
                return self.conn
            except NewerSchema as exc:
                raise StoreUnavailable(str(exc)) from exc
            except sqlite3.DatabaseError as exc:
                self._drop()
                if not isinstance(exc, sqlite3.OperationalError):
                    raise _Damaged(str(exc)) from exc  # "file is not a database", "malformed"
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _probe(self, conn: sqlite3.Connection, thorough: bool) -> None:
        """Touch what every request needs, so damage shows now and not as failing writes."""
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            conn.execute("SELECT id FROM sessions LIMIT 1").fetchall()
            conn.execute("SELECT id FROM entries ORDER BY id DESC LIMIT 1").fetchall()
            self._probe_search_index(conn)
            if thorough:
                result = conn.execute("PRAGMA quick_check").fetchall()
                if [row[0] for row in result] != ["ok"]:
                    raise _Damaged(f"quick_check: {result[0][0]}")
        except sqlite3.OperationalError as exc:
            if _cannot_write(exc) or "locked" in str(exc):
                raise
            raise _Damaged(str(exc)) from exc
        except sqlite3.DatabaseError as exc:
            raise _Damaged(str(exc)) from exc

    def _probe_search_index(self, conn: sqlite3.Connection) -> None:
        """The FTS index is derived from ``entries``: damage there (every write fails in
        its constructor) is repaired by rebuilding it, keeping every entry."""
        probe = "SELECT rowid FROM entries_fts WHERE entries_fts MATCH 'scribe' LIMIT 1"
        try:
            conn.execute(probe).fetchall()
            return
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        with Transaction(conn):
            # A damaged config row stops even 'rebuild'; FTS5 keeps its format version there.
            conn.execute("DELETE FROM entries_fts_config")
            conn.execute("INSERT INTO entries_fts_config (k, v) VALUES ('version', 4)")
            conn.execute("INSERT INTO entries_fts(entries_fts) VALUES ('rebuild')")
        conn.execute(probe).fetchall()
        message = f"the search index of {self.path} was damaged ({problem}); it was rebuilt from the entries"
        log.warning("%s", message)
        self.notices.append(message)

    def _quarantine(self, problem: str) -> None:
        """Move a damaged store (and the worklogs rendered from it, the readable copy of its
        data) aside under a dated name, so a new store can start."""
        self._drop()
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        for suffix in ("", *DB_SIDE_FILES):
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.dir / f"{DB_NAME}{suffix}", self.dir / f"{DB_NAME}.corrupt-{stamp}{suffix}")
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

    def _open_read_only(self, reason: str) -> OpenedStore:
        """Serve reads from a store that cannot be written (read-only disk, full disk)."""
        if not self.path.exists():
            raise StoreUnavailable(with_hint(f"cannot create {self.path}: {reason}", self.dir))
        import urllib.parse  # only for a read-only store: not on the CLI's start-up path

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
            message = f"{self.path} is read-only ({reason}): reads work, writes are refused"
            log.warning("%s", message)
            self.notices.append(message)
            return OpenedStore(conn, reason, self.notices)
        raise StoreUnavailable(with_hint(f"cannot open {self.path}: {reason}", self.dir))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        if conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0:
            # A new store frees the pages compaction empties a step at a time (incremental
            # vacuum); SQLite lets this be chosen only before the first table and WAL.
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
    # FULL: a commit is on disk before we acknowledge the entry it carries.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _header_problem(path: Path) -> str | None:
    """Why the file at ``path`` cannot be an SQLite database, if its first bytes say so."""
    try:
        # O_NONBLOCK: a FIFO shipped as .scribe/scribe.db must not block the open.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "not a regular file"
        head = os.read(fd, 100)
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    finally:
        os.close(fd)
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
