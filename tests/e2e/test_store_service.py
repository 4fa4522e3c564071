"""The store and the in-process API (``Scribe``) on the real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scribe_ls import Scribe
from scribe_ls.config import Config, load_config
from scribe_ls.errors import LimitReached, NoCurrentSession, ScribeError, SessionNotFound
from scribe_ls.rpc.methods import dispatch
from scribe_ls.store.schema import SCHEMA_VERSION

from .helpers import configure

pytestmark = pytest.mark.timeout(60)


async def test_agent_api_roundtrip_and_events(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        events = scribe.subscribe()
        session = await scribe.start_session(title="agent work")
        assert session.backlog_id == "B-4242" and session.title == "agent work"
        first = await asyncio.wait_for(anext(events), 2)
        assert first.method == "scribe/sessionChanged" and first.params["change"] == "started"
        entry = await scribe.note("picked the cache key", kind="decision")
        seen = [await asyncio.wait_for(anext(events), 2) for _ in range(3)]
        assert seen[-1].params["entry"]["id"] == entry.id
        entries, _ = await scribe.get_entries(session.id, kinds=["decision"])
        assert [e.text for e in entries] == ["picked the cache key"]
        events.close()


async def test_plain_directory_and_no_branch(tmp_path: Path) -> None:
    async with Scribe(tmp_path) as scribe:
        session = await scribe.start_session()
        assert session.backlog_id is None and session.branch is None
        assert session.title == "Untitled session"
        # Without a backlog id a start rejoins the open session of the same branch (none
        # here); stopped, the next start is a new session. The worklog is keyed by id.
        again = await scribe.start(title="renamed")
        assert again.session.id == session.id and again.change == "updated"
        await scribe.stop_session()
        assert (await scribe.start_session()).id != session.id
    assert (tmp_path / ".scribe" / "worklogs" / f"{session.id}.md").exists()


async def test_errors_carry_codes(repo: Path) -> None:
    async with Scribe(repo, config=Config(max_active_sessions=2)) as scribe:
        with pytest.raises(NoCurrentSession):
            await scribe.append_entry("x")
        with pytest.raises(SessionNotFound):
            await scribe.get_session("s-nope")
        b1 = await scribe.start_session("B-1")
        await scribe.start_session("B-2")  # pauses B-1: both are open
        with pytest.raises(LimitReached) as info:
            await scribe.start_session("B-3")
        assert info.value.code == -32012 and "2 sessions are already open" in info.value.message
        # Stopping one frees a slot; resuming an open one never counts against the limit.
        await scribe.stop_session(b1.id)
        b3 = await scribe.start_session("B-3")
        assert (await scribe.start("B-2")).change == "resumed"
        assert (await scribe.get_session(b3.id)).status == "paused"
        with pytest.raises(ScribeError) as bad:
            await dispatch(scribe, "scribe/nothing", {})
        assert bad.value.code == -32601


async def test_starting_a_paused_item_resumes_it(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        session = await scribe.start_session()
        await scribe.update_session(session.id, status="paused")
        again = await scribe.start_session()
        assert again.id == session.id and again.status == "active"
        kinds = [e.text for e in (await scribe.get_entries(session.id))[0]]
        assert kinds[-2:] == ["Session paused", "Session resumed"]


async def test_active_seconds_count_only_active_time(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        session = await scribe.start_session()
        await asyncio.sleep(1.1)
        paused = await scribe.update_session(session.id, status="paused")
        assert paused.stats.active_seconds == 1
        await asyncio.sleep(1.1)
        assert (await scribe.get_session(session.id)).stats.active_seconds == 1


async def test_files_changed_counts_distinct_paths(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        session = await scribe.start_session()
        await scribe.append_entry("a", files=["src/a.py", "src/b.py"])
        await scribe.append_entry("b", files=["src/b.py", "src/c.py"])
        assert (await scribe.get_session(session.id)).stats.files_changed == 3


async def test_cleanup_stops_idle_sessions(repo: Path) -> None:
    async with Scribe(repo, config=Config(idle_timeout=1)) as scribe:
        session = await scribe.start_session()
        assert await scribe.cleanup() == []
        await asyncio.sleep(1.2)
        stopped = await scribe.cleanup()
        assert [s.id for s in stopped] == [session.id]
        assert stopped[0].status == "completed"
    text = (repo / ".scribe/worklogs/B-4242.md").read_text()
    assert text.endswith("- Idle timeout reached; stopping scribe\n")


async def test_schema_is_versioned_and_newer_schema_is_refused(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        await scribe.start_session()
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    # The service still opens (a server still answers initialize); every call says why
    # the store cannot be used, and the notice for clients says it once.
    async with Scribe(repo) as scribe:
        with pytest.raises(ScribeError) as info:
            await scribe.list_sessions()
        assert any("upgrade scribe-ls" in text for _, text in scribe.notices)
        assert (await scribe.status())["storeError"] == info.value.message
    assert info.value.code == -32013 and "upgrade scribe-ls" in info.value.message


async def test_unwritable_worklog_does_not_lose_the_entry(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        session = await scribe.start_session()
        worklogs = repo / ".scribe" / "worklogs"
        (worklogs / "B-4242.md").unlink()
        (worklogs / "B-4242.md").mkdir()  # a directory where the file should go
        entry = await scribe.append_entry("still stored")
        assert (await scribe.get_entries(session.id))[0][-1].id == entry.id


APPENDER = """
import asyncio, sys
from scribe_ls import Scribe

async def main(root, tag, count):
    async with Scribe(root) as s:
        for i in range(count):
            await s.append_entry(f"{tag}-{i}")

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""

STARTER = """
import asyncio, sys
from scribe_ls import Scribe

async def main(root):
    async with Scribe(root) as s:
        print((await s.start_session("B-77")).id)

asyncio.run(main(sys.argv[1]))
"""


def test_concurrent_processes_lose_no_entries(repo: Path) -> None:
    """The legacy JSON registry lost concurrent writes; four writers here lose none."""
    subprocess.run([sys.executable, "-m", "scribe_ls", "start"], cwd=repo, check=True, capture_output=True)
    writers = [subprocess.Popen([sys.executable, "-c", APPENDER, str(repo), f"w{n}", "40"]) for n in range(4)]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0, 0]
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    texts = {row[0] for row in db.execute("SELECT text FROM entries WHERE kind = 'note'")}
    assert texts == {f"w{n}-{i}" for n in range(4) for i in range(40)}
    count = db.execute("SELECT entry_count FROM sessions").fetchone()[0]
    assert count == db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    # Every process re-rendered under the lock: the worklog holds every entry.
    worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
    assert all(f"- w{n}-{i}\n" in worklog for n in range(4) for i in range(40))


def test_concurrent_starts_of_one_item_make_one_session(repo: Path) -> None:
    starters = [
        subprocess.Popen([sys.executable, "-c", STARTER, str(repo)], stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    ids = {s.communicate(timeout=60)[0].strip() for s in starters}
    assert len(ids) == 1


def test_config_sources_and_bad_values(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.scribe]\nidle-timeout = 60\nmaxActiveSessions = "many"\n')
    configure(repo, 'max_active_sessions = 3\nexcludes = ["*.tmp"]\nwho = 1\n')
    config = load_config(repo)
    assert config.idle_timeout == 60
    assert config.max_active_sessions == 3
    assert config.excludes == ("*.tmp",)
    assert any("maxActiveSessions must be an integer" in w for w in config.warnings)
    assert any("who is not a known setting" in w for w in config.warnings)
    configure(repo, "not = [toml")
    assert any("cannot read" in w for w in load_config(repo).warnings)


async def test_linked_worktree_branch_and_exclude(repo: Path, tmp_path: Path) -> None:
    from .helpers import git

    worktree = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "bugfix/B-77-crash", str(worktree))
    async with Scribe(worktree) as scribe:
        session = await scribe.start_session()
    assert (session.backlog_id, session.branch) == ("B-77", "bugfix/B-77-crash")
    # The store keeps itself out of git (a .gitignore of its own): nothing is written into
    # the repository's git dir, which the worktree shares with the main one.
    assert (worktree / ".scribe" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert ".scribe" not in (repo / ".git" / "info" / "exclude").read_text()
    assert git(worktree, "status", "--porcelain") == ""


async def test_detached_head_has_no_branch(repo: Path) -> None:
    from .helpers import git

    git(repo, "checkout", "-q", "--detach")
    async with Scribe(repo) as scribe:
        session = await scribe.start_session(title="detached")
    assert session.branch is None and session.backlog_id is None


async def test_a_tampered_worklog_is_rendered_again_in_full(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        await scribe.append_entry("one")
    path = repo / ".scribe/worklogs/B-4242.md"
    good = path.read_text()
    path.write_text(good + "- someone edited this by hand\n")
    async with Scribe(repo) as scribe:  # a new process: no in-memory render state
        await scribe.append_entry("two")
    text = path.read_text()
    assert "edited this by hand" not in text
    assert text.startswith(good) and text.endswith("- two\n")


@pytest.mark.parametrize("value", ["10 MiB", True, 100, 2**40, -1, 3.5])
def test_a_bad_message_limit_falls_back_to_the_default(repo: Path, value: object) -> None:
    import json

    configure(repo, f"max_message_bytes = {json.dumps(value)}\n")
    config = load_config(repo)
    assert config.max_message_bytes == 16 * 1024 * 1024
    assert any("max_message_bytes must be an integer from 1024" in w for w in config.warnings)


def test_a_writer_waits_for_another_process_lock_then_writes_or_gives_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Transaction waits for the write lock itself (short steps): it gets it as soon as the
    other writer commits, and says the store is locked when the wait outlasts the timeout."""
    import sqlite3
    import threading
    import time

    from scribe_ls.store import opening as storefile

    db = tmp_path / "t.db"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("CREATE TABLE t (x)")
    writer = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.2, lambda: holder.execute("COMMIT")).start()
    with storefile.Transaction(writer) as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    assert writer.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 1
    assert writer.execute("PRAGMA busy_timeout").fetchone()[0] == storefile.BUSY_TIMEOUT_MS  # restored
    # A lock that is never let go: the wait ends with SQLite's own error.
    monkeypatch.setattr(storefile, "BUSY_TIMEOUT_MS", 300)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"), storefile.Transaction(writer):
        pass
    assert time.monotonic() - started >= 0.3
    holder.execute("ROLLBACK")


def test_a_relay_reads_another_process_feed_a_page_at_a_time_and_skips_its_own(repo: Path) -> None:
    """Store.foreign_changes: one visit per page; a full page keeps the old version so the
    relay reads on; our own commits are read past, never told; nothing new: nothing read."""
    from scribe_ls.config import load_config
    from scribe_ls.core.operations import Ledger
    from scribe_ls.store.database import Store

    theirs, ours = Store(repo, origin="theirs"), Store(repo, origin="ours")
    theirs.open()
    ours.open()
    try:
        after, seen = ours.last_change_id(), ours.data_version()
        writer = Ledger(theirs, load_config(repo))
        session = writer.start_session("B-9").session
        assert session is not None
        for n in range(4):
            writer.append_entry(f"theirs {n}", session_id=session.id)
        told: list[str] = []
        sessions: dict[str, object] = {}
        pages = 0
        while True:
            read = ours.foreign_changes(after, seen, "ours", limit=2)
            pages += 1
            told += [read.entries[c.entry_id].text for c in read.changes if c.entry_id is not None]
            sessions |= read.sessions
            if read.version != seen or read.last_id == after:
                break
            after = read.last_id
        assert pages >= 3
        assert [t for t in told if t.startswith("theirs")] == [f"theirs {n}" for n in range(4)]
        assert sessions[session.id].backlog_id == "B-9"  # type: ignore[attr-defined]  # with its row
        # Nothing new since: nothing read at all.
        quiet = ours.foreign_changes(read.last_id, read.version, "ours")
        assert quiet.changes == [] and quiet.last_id == read.last_id
    finally:
        theirs.close()
        ours.close()


def test_a_sessions_latest_entries_of_a_kind_are_an_index_seek(repo: Path) -> None:
    """The packet's summary asks for a session's newest decisions, ideas and todos: with
    the (session, kind, id) index that is a seek, not a scan of the whole session."""
    from scribe_ls.store.database import Store

    store = Store(repo)
    store.open()
    try:
        plan = store.conn.execute(
            "EXPLAIN QUERY PLAN SELECT text FROM entries WHERE session_id = ? AND kind = ?"
            " ORDER BY id DESC LIMIT 5",
            ("s-1", "idea"),
        ).fetchall()
    finally:
        store.close()
    detail = " ".join(row[-1] for row in plan)
    assert "entries_session_kind" in detail and "TEMP B-TREE" not in detail, detail
