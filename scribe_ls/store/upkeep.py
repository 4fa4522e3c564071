"""Time roll-ups read for reports, and the store's upkeep: its size, compaction, vacuum,
integrity, and the legacy import's sessions."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from ..core.timesheet import TimeRow, time_rows
from ..model import Entry, Session, iso
from ..worklog.format import WorklogItem
from .base import StoreBase, new_session_id
from .schema import SCHEMA_VERSION


class Upkeep(StoreBase):
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
