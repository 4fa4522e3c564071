"""Sharing in SQL: what this store has written to its own log (its settings, the last entry
shared, each session's and each day's last shared state) and the teammates' logs read so
far, kept apart from this store's own sessions (read-only copies, per writer)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from .base import StoreBase

MAX_SHARED_FILES = 200  # a session's files said in its record (the overlaps' input)


def digest(record: dict[str, Any]) -> str:
    """A shared state's digest (``c:`` first for a completed session's: it is final)."""
    done = "c:" if record.get("status") == "completed" else ""
    return done + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:32]


class TeamTables(StoreBase):
    # -- this store's own log ----------------------------------------------------------------

    def share_setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM share_state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def my_author_id(self) -> str | None:
        """This user's author id in the shared logs (None before sharing was turned on)."""
        writer = self.share_setting("writer")
        return writer.split("/")[0] if writer else None

    def set_share_settings(self, values: dict[str, str | None]) -> None:
        with self._tx():
            self._put_settings(values)

    def _put_settings(self, values: dict[str, str | None]) -> None:
        """Within the caller's transaction: each value set (None: removed)."""
        for key, value in values.items():
            if value is None:
                self.conn.execute("DELETE FROM share_state WHERE key = ?", (key,))
            else:
                self.conn.execute(
                    "INSERT INTO share_state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    def _first_paths(self, sql: str, *args: Any) -> list[str]:
        """A session's files, in path order, the first MAX_SHARED_FILES (``sql`` selects them)."""
        return [row[0] for row in self.conn.execute(sql, (*args, MAX_SHARED_FILES))]

    def session_records(self) -> list[tuple[dict[str, Any], str | None]]:
        """This store's sessions as their records say them, each with the digest of its
        state last shared (None: never); a completed session shared as completed is left
        out (it does not change any more)."""
        rows = self.conn.execute(
            "SELECT s.*, h.digest FROM sessions s LEFT JOIN shared_sessions h ON h.id = s.id"
            " WHERE NOT (s.status = 'completed' AND COALESCE(h.digest, '') LIKE 'c:%')"
            " ORDER BY s.started_at"
        ).fetchall()
        found = []
        for row in rows:
            files = self._first_paths(
                "SELECT path FROM session_files WHERE session_id = ? ORDER BY path LIMIT ?", row["id"]
            )
            record = {
                "t": "session",
                "id": row["id"],
                "backlogId": row["backlog_id"],
                "title": row["title"],
                "branch": row["branch"],
                "status": row["status"],
                "startedAt": row["started_at"],
                "endedAt": row["ended_at"],
                "lastActivityAt": row["last_activity_at"],
                "activeSeconds": round(row["active_seconds"], 1),
                "files": files,
            }
            found.append((record, row["digest"]))
        return found

    def unshared_entries(self, after_id: int, kinds: Sequence[str], limit: int) -> list[dict[str, Any]]:
        """This store's entries after ``after_id`` of ``kinds``, as records, oldest first."""
        marks = ",".join("?" * len(kinds))
        rows = self.conn.execute(
            f"SELECT id, session_id, at, kind, text, files, author FROM entries"
            f" WHERE id > ? AND kind IN ({marks}) ORDER BY id LIMIT ?",
            (after_id, *kinds, limit),
        ).fetchall()
        return [
            {
                "t": "entry",
                "id": row["id"],
                "session": row["session_id"],
                "at": row["at"],
                "kind": row["kind"],
                "text": row["text"],
                "files": json.loads(row["files"]),
                "author": row["author"],
            }
            for row in rows
        ]

    def unshared_time(self) -> list[dict[str, Any]]:
        """This store's time per day and item whose whole seconds changed since shared."""
        rows = self.conn.execute(
            "SELECT d.day, d.item, d.branch, CAST(d.seconds AS INTEGER) AS seconds FROM time_daily d"
            " LEFT JOIN shared_time s ON s.day = d.day AND s.item = d.item AND s.branch = d.branch"
            " WHERE s.seconds IS NULL OR s.seconds != CAST(d.seconds AS INTEGER)"
            " ORDER BY d.day, d.item, d.branch"
        ).fetchall()
        return [{"t": "time", **dict(row)} for row in rows]

    def mark_shared(self, records: Iterable[dict[str, Any]], settings: dict[str, str]) -> None:
        """Remember what a segment now in this store's ref said, in one transaction."""
        with self._tx():
            for record in records:
                if record["t"] == "session":
                    self.conn.execute(
                        "INSERT INTO shared_sessions (id, digest) VALUES (?, ?)"
                        " ON CONFLICT (id) DO UPDATE SET digest = excluded.digest",
                        (record["id"], digest(record)),
                    )
                elif record["t"] == "time":
                    self.conn.execute(
                        "INSERT INTO shared_time (day, item, branch, seconds) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (day, item, branch) DO UPDATE SET seconds = excluded.seconds",
                        (record["day"], record["item"], record["branch"], record["seconds"]),
                    )
            self._put_settings(dict(settings))

    def share_status(self) -> dict[str, Any]:
        """Sharing as ``status`` says it: on or off, with which remote, the last sync, and
        the failed tries in a row (the recorder backs off while there are any)."""
        consent = self.share_setting("consent")
        return {
            "on": consent is not None,
            "remote": json.loads(consent).get("remote") if consent else None,
            "lastSyncAt": self.share_setting("synced_at"),
            "lastTryAt": self.share_setting("tried_at"),
            "failures": int(self.share_setting("failures") or 0),
            "lastError": self.share_setting("last_error"),
        }

    # -- teammates' logs -------------------------------------------------------------------

    def writer_commit(self, writer: str) -> str | None:
        row = self.conn.execute("SELECT last_commit FROM team_writers WHERE writer = ?", (writer,)).fetchone()
        return None if row is None else row[0]

    def apply_segments(
        self,
        writer: str,
        author: str,
        pusher: str,
        segments: Sequence[tuple[str, list[dict[str, Any]], int]],
        *,
        restart: bool = False,
    ) -> None:
        """A writer's new segments (commit, its usable records, how many were skipped),
        oldest first, applied in one transaction with the commit they reach; ``restart``:
        the log was rewritten, so what it said before is dropped first."""
        with self._tx():
            if restart:
                for table in ("team_sessions", "team_files", "team_entries", "team_time"):
                    self.conn.execute(f"DELETE FROM {table} WHERE writer = ?", (writer,))
            hello: dict[str, Any] = {}
            records = skipped = 0
            for _, found, dropped in segments:
                skipped += dropped
                records += len(found)
                for record in found:
                    if record["t"] == "hello":
                        hello = record
                    else:
                        self._apply(writer, record)
            self.conn.execute(
                "INSERT INTO team_writers (writer, author_id, name, email, pusher, last_commit, records,"
                " skipped, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (writer) DO UPDATE SET"
                " name = COALESCE(excluded.name, name), email = COALESCE(excluded.email, email),"
                " pusher = excluded.pusher, last_commit = excluded.last_commit,"
                " records = records + excluded.records, skipped = skipped + excluded.skipped,"
                " synced_at = excluded.synced_at",
                (
                    writer, author, hello.get("name"), hello.get("email"), pusher,
                    segments[-1][0] if segments else None, records, skipped, self.now(),
                ),
            )  # fmt: skip

    def _apply(self, writer: str, r: dict[str, Any]) -> None:
        """One checked record of a teammate's (team/records.py): the latest state of a
        session or a day replaces the earlier; an entry is added once."""
        conn = self.conn
        if r["t"] == "session":
            conn.execute(
                "INSERT INTO team_sessions (writer, id, backlog_id, title, branch, status, started_at,"
                " ended_at, last_activity_at, active_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (writer, id) DO UPDATE SET backlog_id = excluded.backlog_id,"
                " title = excluded.title, branch = excluded.branch, status = excluded.status,"
                " started_at = excluded.started_at, ended_at = excluded.ended_at,"
                " last_activity_at = excluded.last_activity_at, active_seconds = excluded.active_seconds",
                (
                    writer, r["id"], r["backlogId"], r["title"], r["branch"], r["status"],
                    r["startedAt"], r["endedAt"], r["lastActivityAt"], r["activeSeconds"],
                ),
            )  # fmt: skip
            conn.execute("DELETE FROM team_files WHERE writer = ? AND session_id = ?", (writer, r["id"]))
            conn.executemany(
                "INSERT OR IGNORE INTO team_files (writer, session_id, path) VALUES (?, ?, ?)",
                [(writer, r["id"], path) for path in r["files"]],
            )
        elif r["t"] == "entry":
            conn.execute(
                "INSERT OR IGNORE INTO team_entries (writer, id, session_id, at, kind, text, files, author)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    writer,
                    r["id"],
                    r["session"],
                    r["at"],
                    r["kind"],
                    r["text"],
                    json.dumps(r["files"]),
                    r["author"],
                ),
            )
        elif r["t"] == "time":
            conn.execute(
                "INSERT INTO team_time (writer, day, item, branch, seconds) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (writer, day, item, branch) DO UPDATE SET seconds = excluded.seconds",
                (writer, r["day"], r["item"], r["branch"], r["seconds"]),
            )

    def team_sessions(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        """Teammates' sessions (and this author's other machines'), newest activity first,
        with their writer's identity and files."""
        where = "WHERE s.status != 'completed'" if open_only else ""
        rows = self.conn.execute(
            "SELECT s.*, w.author_id, w.name, w.email, w.pusher FROM team_sessions s"
            f" JOIN team_writers w ON w.writer = s.writer {where}"
            " ORDER BY COALESCE(s.last_activity_at, s.started_at) DESC LIMIT 500"
        ).fetchall()
        found = []
        for row in rows:
            files = self._first_paths(
                "SELECT path FROM team_files WHERE writer = ? AND session_id = ? ORDER BY path LIMIT ?",
                row["writer"],
                row["id"],
            )
            found.append({**dict(row), "files": files})
        return found

    def team_sessions_touching(self, paths: Sequence[str]) -> list[dict[str, Any]]:
        """Teammates' open sessions that changed any of ``paths``, with those paths."""
        if not paths:
            return []
        rows = self.conn.execute(
            "SELECT f.writer, f.session_id, f.path FROM team_files f"
            " JOIN team_sessions s ON s.writer = f.writer AND s.id = f.session_id"
            " WHERE s.status != 'completed' AND f.path IN (SELECT value FROM json_each(?))"
            " ORDER BY f.path LIMIT 1000",
            (json.dumps(list(paths)),),
        ).fetchall()
        shared: dict[tuple[str, str], list[str]] = {}
        for row in rows:
            shared.setdefault((row["writer"], row["session_id"]), []).append(row["path"])
        sessions = {(s["writer"], s["id"]): s for s in self.team_sessions(open_only=True)}
        return [{**sessions[key], "shared": files} for key, files in shared.items() if key in sessions]

    def item_timeline(self, item: str, limit: int) -> list[dict[str, Any]]:
        """One backlog item's entries from every writer (this store's and the shared logs'),
        newest ``limit``, oldest first: ``{at, kind, text, files, author, writer}`` where
        ``writer`` is None for this store's own."""
        rows = self.conn.execute(
            "SELECT * FROM ("
            " SELECT e.at, e.kind, e.text, e.files, e.author, NULL AS writer, e.id AS n FROM entries e"
            " JOIN sessions s ON s.id = e.session_id WHERE s.backlog_id = ?1"
            " UNION ALL"
            " SELECT e.at, e.kind, e.text, e.files, e.author, e.writer, e.id AS n FROM team_entries e"
            " JOIN team_sessions s ON s.writer = e.writer AND s.id = e.session_id WHERE s.backlog_id = ?1"
            ") ORDER BY at DESC, n DESC LIMIT ?2",
            (item, limit),
        ).fetchall()
        return [{**dict(row), "files": json.loads(row["files"])} for row in reversed(rows)]

    def writers(self) -> dict[str, dict[str, Any]]:
        """Every teammate's log read so far, by writer: its author, identity and pusher."""
        rows = self.conn.execute("SELECT * FROM team_writers LIMIT 10000").fetchall()
        return {row["writer"]: dict(row) for row in rows}

    def team_time_rows(self, since: str, until: str) -> list[dict[str, Any]]:
        """Teammates' (and this author's other machines') time per author and item over
        ``[since, until]`` (days), each machine's own days summed: ``{author_id, item,
        seconds}``, most first."""
        rows = self.conn.execute(
            "SELECT w.author_id, t.item, SUM(t.seconds) AS seconds FROM team_time t"
            " JOIN team_writers w ON w.writer = t.writer WHERE t.day BETWEEN ? AND ?"
            " GROUP BY w.author_id, t.item ORDER BY 3 DESC, 1, 2 LIMIT 5000",
            (since, until),
        ).fetchall()
        return [dict(row) for row in rows]

    def team_entries_between(self, start: str, end: str, kinds: Sequence[str]) -> list[dict[str, Any]]:
        """Teammates' entries of ``kinds`` written in ``[start, end)`` (ISO times), with
        their author and item, oldest first (at most 5,000)."""
        marks = ",".join("?" * len(kinds))
        rows = self.conn.execute(
            "SELECT w.author_id, COALESCE(s.backlog_id, s.id) AS item, s.title, e.kind, e.text, e.at"
            " FROM team_entries e JOIN team_sessions s ON s.writer = e.writer AND s.id = e.session_id"
            " JOIN team_writers w ON w.writer = e.writer"
            f" WHERE e.at >= ? AND e.at < ? AND e.kind IN ({marks}) ORDER BY e.at LIMIT 5000",
            (start, end, *kinds),
        ).fetchall()
        return [dict(row) for row in rows]
