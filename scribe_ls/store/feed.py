"""The change feed (how one process hears what another committed) and the reads a worklog
is rendered from."""

from __future__ import annotations

import json
from typing import NamedTuple

from ..errors import SessionNotFound
from ..model import Entry, Session, parse_iso
from ..worklog.format import WorklogItem
from .base import StoreBase

# The change feed only has to cover the gap between a write and the other processes
# noticing it; keep it short.
CHANGES_KEPT = 5000


class Change(NamedTuple):
    """A row of the change feed."""

    id: int
    origin: str
    session_id: str
    entry_id: int | None
    change: str
    payload: str | None = None


class ForeignChanges(NamedTuple):
    """One read of the change feed for a relay (:meth:`ChangeFeed.foreign_changes`)."""

    version: int
    last_id: int
    changes: list[Change]
    entries: dict[int, Entry]
    sessions: dict[str, Session]


class ChangeFeed(StoreBase):
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
