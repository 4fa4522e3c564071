"""The store's schema: every migration, and how they are applied."""

from __future__ import annotations

import sqlite3

from ..lazylog import get_logger

log = get_logger(__name__)

SCHEMA_VERSION = 13

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
    4: """
    -- Which open session is current when the branch names no backlog item: the one used
    -- last (started, resumed, rejoined, written to), not the one started last.
    ALTER TABLE sessions ADD COLUMN used_at TEXT;
    UPDATE sessions SET used_at = last_activity_at;
    -- A session's own idle timeout (an imported legacy session's); NULL follows the config,
    -- so a changed idle_timeout applies to the open sessions too.
    ALTER TABLE sessions ADD COLUMN own_idle_timeout INTEGER;
    CREATE INDEX sessions_used ON sessions(used_at) WHERE status != 'completed';
    -- Small facts of the root: the branch last seen checked out ('branch'), so whichever
    -- process sees a switch first (the CLI or a server) applies it, once.
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    -- The entry opens a "## <time>" block of its own in the worklog even within the same
    -- second as the one before: the legacy writer wrote one heading per write, and an
    -- imported worklog renders back byte for byte. Older entries group by second, as
    -- they always rendered.
    ALTER TABLE entries ADD COLUMN opens_block INTEGER NOT NULL DEFAULT 0;
    """,
    5: """
    -- Time per backlog item (scribe_ls/core/timesheet.py): pulses of activity merged into spans,
    -- and what they add up to per local day, item and branch, kept as they happen so a
    -- report over a year reads roll-ups, never raw events. Times are unix seconds.
    CREATE TABLE spans (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL,
        item TEXT NOT NULL,
        branch TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL
    );
    CREATE INDEX spans_session ON spans(session_id, id);
    -- A report names each item by its latest session's title.
    CREATE INDEX sessions_backlog ON sessions(backlog_id, started_at);
    CREATE TABLE time_daily (
        day TEXT NOT NULL,
        item TEXT NOT NULL,
        branch TEXT NOT NULL,
        seconds REAL NOT NULL,
        pulses INTEGER NOT NULL,
        PRIMARY KEY (day, item, branch)
    ) WITHOUT ROWID;
    -- Active time now comes from pulses; an active session keeps the wall-clock time it
    -- had gathered until this version, and gathers no more of it.
    UPDATE sessions SET active_seconds = active_seconds
        + MAX(0, (julianday('now') - julianday(active_since)) * 86400)
        WHERE status = 'active' AND active_since IS NOT NULL;
    UPDATE sessions SET active_since = NULL;
    """,
    6: """
    -- Who wrote an entry when it was not the person at the keyboard: an agent (an MCP
    -- client's name, e.g. claude-code). NULL: the developer (CLI, editors) or the recorder.
    ALTER TABLE entries ADD COLUMN author TEXT;
    """,
    7: """
    -- A session's latest entries of one kind (the packet's summary: decisions, ideas,
    -- todos) by an index seek: a kind that is rare in a long session was a scan of all of
    -- it (66 ms for 30,000 entries, in every cold packet).
    CREATE INDEX entries_session_kind ON entries(session_id, kind, id);
    """,
    8: """
    -- Compaction (scribe-ls compact) rewrites and deletes old activity entries: the search
    -- index follows every change of an entry's text, not only inserts.
    CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER entries_fts_update AFTER UPDATE OF text ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO entries_fts(rowid, text) VALUES (new.id, new.text);
    END;
    """,
    9: """
    -- Search finds the files an entry names too (`search termui` finds the commit that
    -- changed src/click/termui.py): the index gets a second column, rebuilt once.
    DROP TRIGGER entries_fts_insert;
    DROP TRIGGER entries_fts_delete;
    DROP TRIGGER entries_fts_update;
    DROP TABLE entries_fts;
    CREATE VIRTUAL TABLE entries_fts USING fts5(text, files, content='entries', content_rowid='id');
    CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts(rowid, text, files) VALUES (new.id, new.text, new.files);
    END;
    CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text, files)
            VALUES ('delete', old.id, old.text, old.files);
    END;
    CREATE TRIGGER entries_fts_update AFTER UPDATE OF text, files ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text, files)
            VALUES ('delete', old.id, old.text, old.files);
        INSERT INTO entries_fts(rowid, text, files) VALUES (new.id, new.text, new.files);
    END;
    INSERT INTO entries_fts(entries_fts) VALUES ('rebuild');
    """,
    10: """
    -- A coding agent's own work (its hooks): the prompts that set a turn's direction
    -- ('intent') and what the agent did (edits, commands and their exit, a turn's end:
    -- 'agent'). The CHECK lists them, so the table is rebuilt as in version 3, ids kept.
    CREATE TABLE entries_v10 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        session_id TEXT NOT NULL REFERENCES sessions(id),
        at TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (
            kind IN ('note', 'decision', 'idea', 'todo', 'activity', 'commit', 'system', 'intent', 'agent')
        ),
        text TEXT NOT NULL,
        files TEXT NOT NULL DEFAULT '[]',
        request_id TEXT,
        opens_block INTEGER NOT NULL DEFAULT 0,
        author TEXT
    );
    INSERT INTO entries_v10 (id, session_id, at, kind, text, files, request_id, opens_block, author)
        SELECT id, session_id, at, kind, text, files, request_id, opens_block, author FROM entries;
    DROP TABLE entries;
    ALTER TABLE entries_v10 RENAME TO entries;
    CREATE INDEX entries_session ON entries(session_id, id);
    CREATE UNIQUE INDEX entries_request ON entries(request_id) WHERE request_id IS NOT NULL;
    CREATE INDEX entries_session_kind ON entries(session_id, kind, id);
    CREATE TRIGGER entries_fts_insert AFTER INSERT ON entries BEGIN
        INSERT INTO entries_fts(rowid, text, files) VALUES (new.id, new.text, new.files);
    END;
    CREATE TRIGGER entries_fts_delete AFTER DELETE ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text, files)
            VALUES ('delete', old.id, old.text, old.files);
    END;
    CREATE TRIGGER entries_fts_update AFTER UPDATE OF text, files ON entries BEGIN
        INSERT INTO entries_fts(entries_fts, rowid, text, files)
            VALUES ('delete', old.id, old.text, old.files);
        INSERT INTO entries_fts(rowid, text, files) VALUES (new.id, new.text, new.files);
    END;
    """,
    11: """
    -- Time per author, beside the item's own (which counts time once, whoever was at
    -- work): the person's pulses and each agent's apart, so a report can split an item's
    -- time and say how much of it both were at work at once. One open span per session
    -- and author (only its end matters), and the roll-up per local day, item and author.
    CREATE TABLE author_spans (
        session_id TEXT NOT NULL,
        author TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL NOT NULL,
        PRIMARY KEY (session_id, author)
    ) WITHOUT ROWID;
    CREATE TABLE time_by_author (
        day TEXT NOT NULL,
        item TEXT NOT NULL,
        author TEXT NOT NULL,
        seconds REAL NOT NULL,
        pulses INTEGER NOT NULL,
        PRIMARY KEY (day, item, author)
    ) WITHOUT ROWID;
    """,
    12: """
    -- Who changed each file of an item: the person (the recorder's saves of their files)
    -- or an agent (its hooks' edits, the saves of files it wrote), by the author's name
    -- before ':'. Kept as entries are written, so the packet asks for its files' authors
    -- by key instead of reading every entry of the item; filled from the entries so far.
    CREATE TABLE file_authors (
        item TEXT NOT NULL,
        path TEXT NOT NULL,
        author TEXT NOT NULL,
        PRIMARY KEY (item, path, author)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO file_authors (item, path, author)
        SELECT CASE WHEN COALESCE(s.backlog_id, '') = '' THEN s.id ELSE s.backlog_id END,
               j.value,
               CASE WHEN COALESCE(e.author, '') = '' THEN 'person'
                    ELSE substr(e.author, 1, instr(e.author || ':', ':') - 1) END
        FROM entries e JOIN sessions s ON s.id = e.session_id, json_each(e.files) j
        WHERE e.kind IN ('activity', 'agent') AND json_valid(e.files) AND j.type = 'text';
    """,
    13: """
    -- Sharing through the repository's git remote (scribe_ls/team). What this store has
    -- written to its own log (settings, the last entry shared, each session's and each
    -- day's last shared state), and what teammates' logs said: read-only copies, kept
    -- apart from this store's own sessions, per writer (one clone: <author>/<writer>).
    CREATE TABLE share_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE shared_sessions (id TEXT PRIMARY KEY, digest TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE shared_time (
        day TEXT NOT NULL, item TEXT NOT NULL, branch TEXT NOT NULL, seconds INTEGER NOT NULL,
        PRIMARY KEY (day, item, branch)
    ) WITHOUT ROWID;
    CREATE TABLE team_writers (
        writer TEXT PRIMARY KEY,
        author_id TEXT NOT NULL,
        name TEXT,
        email TEXT,
        pusher TEXT,
        last_commit TEXT,
        records INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        synced_at TEXT
    ) WITHOUT ROWID;
    CREATE TABLE team_sessions (
        writer TEXT NOT NULL,
        id TEXT NOT NULL,
        backlog_id TEXT,
        title TEXT,
        branch TEXT,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        last_activity_at TEXT,
        active_seconds REAL NOT NULL DEFAULT 0,
        PRIMARY KEY (writer, id)
    ) WITHOUT ROWID;
    CREATE TABLE team_files (
        writer TEXT NOT NULL, session_id TEXT NOT NULL, path TEXT NOT NULL,
        PRIMARY KEY (writer, session_id, path)
    ) WITHOUT ROWID;
    CREATE INDEX team_files_path ON team_files(path);
    CREATE TABLE team_entries (
        writer TEXT NOT NULL,
        id INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        files TEXT NOT NULL,
        author TEXT,
        PRIMARY KEY (writer, id)
    ) WITHOUT ROWID;
    CREATE INDEX team_entries_session ON team_entries(writer, session_id);
    CREATE INDEX team_sessions_backlog ON team_sessions(backlog_id);
    CREATE TABLE team_time (
        writer TEXT NOT NULL, day TEXT NOT NULL, item TEXT NOT NULL, branch TEXT NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (writer, day, item, branch)
    ) WITHOUT ROWID;
    """,
}


class NewerSchema(Exception):
    """The file was written by a newer scribe-ls."""


def migrate(conn: sqlite3.Connection, name: str) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`, one ``BEGIN IMMEDIATE`` per step."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise NewerSchema(
            f"{name} has schema version {version}; this scribe-ls knows up to "
            f"{SCHEMA_VERSION}: upgrade scribe-ls"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            applied = conn.execute("PRAGMA user_version").fetchone()[0] < target
            if applied:
                for statement in split_sql(MIGRATIONS[target]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if applied:
            log.info("store %s migrated to schema version %d", name, target)


def split_sql(script: str) -> list[str]:
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
