"""Entries in SQL: appends, pages, the latest of each kind, overlaps between sessions and
full-text search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.timesheet import PERSON
from ..model import Entry, Overlap, SearchHit, Session, SessionSummary
from .base import StoreBase


class EntryTables(StoreBase):
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
        now = self.now()
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

    def file_authors(self, key: str, paths: Sequence[str]) -> dict[str, list[str]]:
        """Who changed each of ``paths`` on an item (its worklog key, ``key``): ``person``
        or an agent's name (the ``file_authors`` table, kept as activity and agent entries
        are written); person first. A path nobody was seen changing is left out."""
        rows = self.conn.execute(
            "SELECT path, author FROM file_authors"
            " WHERE item = ? AND path IN (SELECT value FROM json_each(?))",
            (key, json.dumps(list(paths))),
        ).fetchall()
        found: dict[str, list[str]] = {}
        for path, author in rows:
            found.setdefault(path, []).append(author)
        return {path: sorted(names, key=lambda n: (n != PERSON, n)) for path, names in found.items()}

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
        O(matches) (bench/scale.py; bench/RESULTS.md, "Scale, idle and concurrent writers"),
        while walking the index from its newest
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
