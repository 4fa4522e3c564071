"""Faults: damaged, read-only and full stores, retried appends, crashes, odd file names,
signals. Each ends in a working service (or a clean exit) and a user who was told."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .helpers import configure, run_cli
from .rawrpc import RawPeer

pytestmark = pytest.mark.timeout(60)


def shown(peer: RawPeer) -> list[str]:
    return [n["params"]["message"] for n in peer.notifications if n["method"] == "window/showMessage"]


async def notifications_until(peer: RawPeer, predicate, timeout: float = 5.0) -> dict:
    """Wait for a notification (pushes arrive between answers; read until one matches).
    The deadline is checked between whole requests, never by cancelling a read half-way
    through a frame (the next read would start inside its body)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for note in peer.notifications:
            if predicate(note):
                return note
        if loop.time() > deadline:
            raise TimeoutError("no matching notification")
        await peer.request(f"ping-{len(peer.notifications)}-{random.random()}", "scribe/status", {})
        await asyncio.sleep(0.05)


# -- exactly-once appends and odd strings -----------------------------------------------------


async def test_a_retried_request_id_is_stored_once(repo: Path) -> None:
    peer = await RawPeer.start(repo)
    try:
        await peer.request(2, "scribe/startSession", {})
        params = {"text": "deploy done", "requestId": "client-7f3a-1"}
        first = (await peer.request(3, "scribe/appendEntry", params))["result"]
        # The client lost the answer (a crash, a dropped connection) and sends it again.
        again = (await peer.request(4, "scribe/appendEntry", params))["result"]
        assert again == first
        other = (await peer.request(5, "scribe/appendEntry", {"text": "deploy done", "requestId": "r2"}))[
            "result"
        ]
        assert other["id"] != first["id"]
        entries = (await peer.request(6, "scribe/getEntries", {"sessionId": first["sessionId"]}))["result"]
        assert [e["text"] for e in entries["entries"]].count("deploy done") == 2
        bad = await peer.request(7, "scribe/appendEntry", {"text": "x", "requestId": 5})
        assert bad["error"]["code"] == -32602 and bad["error"]["message"].startswith("requestId:")
    finally:
        await peer.close()
    # Across processes too: a server restarted after the crash knows the id.
    peer = await RawPeer.start(repo)
    try:
        again = (await peer.request(8, "scribe/appendEntry", params))["result"]
        assert again == first
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("scribe/appendEntry", '{"text": "a\\ud800b"}', "text"),
        ("scribe/startSession", '{"title": "\\udfff"}', "title"),
        ("scribe/startSession", '{"tags": ["ok", "x\\ud83d"]}', "tags[1]"),
        ("scribe/appendEntry", '{"text": "x", "files": ["\\ud800.py"]}', "files[0]"),
        ("scribe/search", '{"query": "\\ud800"}', "query"),
        ("scribe/updateSession", '{"sessionId": "s-1", "addTags": ["\\udc80"]}', "addTags[0]"),
    ],
)
async def test_lone_surrogates_are_invalid_params_naming_the_field(
    repo: Path, method: str, params: str, field: str
) -> None:
    peer = await RawPeer.start(repo)
    try:
        await peer.request(2, "scribe/startSession", {})
        await peer.send(f'{{"jsonrpc": "2.0", "id": 9, "method": "{method}", "params": {params}}}')
        answer = await peer.answer(9)
        assert answer["error"]["code"] == -32602
        assert answer["error"]["message"].startswith(f"{field}: ")
        assert "surrogate" in answer["error"]["message"]
        assert "result" in await peer.request(10, "scribe/status", {})
    finally:
        await peer.close()


# -- damaged stores ---------------------------------------------------------------------------


def make_store(root: Path, notes: int = 40) -> None:
    assert run_cli(root, "start").returncode == 0
    for index in range(notes):
        assert run_cli(root, "append", f"note {index} " + "lorem ipsum " * 40).returncode == 0
    # Everything in the main file, nothing left in the WAL.
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def overwrite_header(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.write(b"this is not sqlite at all")


def truncate(path: Path) -> None:
    os.truncate(path, 60)


def random_pages(path: Path) -> None:
    rng = random.Random(1234)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        for page in range(2, size // 4096):
            handle.seek(page * 4096 + 100)
            handle.write(bytes(rng.randrange(256) for _ in range(2000)))


@pytest.mark.parametrize("damage", [overwrite_header, truncate, random_pages])
async def test_a_damaged_store_is_moved_aside_and_a_new_one_works(repo: Path, damage) -> None:
    make_store(repo)
    worklog_before = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    damage(repo / ".scribe" / "scribe.db")
    peer = await RawPeer.start(repo)
    try:
        session = await peer.request(2, "scribe/startSession", {})
        assert session["result"]["backlogId"] == "B-4242"
        note = await peer.request(3, "scribe/appendEntry", {"text": "after the damage"})
        assert "result" in note
        messages = " ".join(shown(peer))
        assert "was damaged" in messages and "moved aside" in messages
    finally:
        await peer.close()
    names = sorted(p.name for p in (repo / ".scribe").iterdir())
    assert any(n.startswith("scribe.db.corrupt-") for n in names)
    moved_worklogs = [n for n in names if n.startswith("worklogs.corrupt-")]
    assert moved_worklogs
    # The worklog rendered from the damaged store is kept, and brings the notes back.
    assert (repo / ".scribe" / moved_worklogs[0] / "B-4242.md").read_text() == worklog_before
    done = run_cli(repo, "validate")
    assert "quarantined:" in done.stdout and "scribe.db.corrupt-" in done.stdout
    report = json.loads(run_cli(repo, "import", f".scribe/{moved_worklogs[0]}", "--json").stdout)
    assert report["imported"][0]["entries"] > 40


async def test_a_damaged_search_index_is_rebuilt_keeping_every_entry(repo: Path) -> None:
    make_store(repo, notes=5)
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    db.execute("UPDATE entries_fts_config SET v = 99 WHERE k = 'version'")
    db.commit()
    db.close()
    peer = await RawPeer.start(repo)
    try:
        hits = (await peer.request(2, "scribe/search", {"query": "lorem"}))["result"]["hits"]
        assert len(hits) == 5
        assert "result" in await peer.request(3, "scribe/appendEntry", {"text": "writes work again"})
        assert any("search index" in m and "rebuilt" in m for m in shown(peer))
    finally:
        await peer.close()
    assert not any(p.name.startswith("scribe.db.corrupt") for p in (repo / ".scribe").iterdir())


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of its own (root only), so a test can fill it or make it read-only."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()}); bench/faults.py covers it")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


async def test_a_read_only_store_serves_reads_and_refuses_writes_clearly(small_disk: Path) -> None:
    from .helpers import make_git_repo

    repo = make_git_repo(small_disk / "repo")
    make_store(repo, notes=3)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)  # noqa: ASYNC221
    peer = await RawPeer.start(repo)
    try:
        sessions = (await peer.request(2, "scribe/listSessions", {}))["result"]["sessions"]
        assert sessions[0]["backlogId"] == "B-4242"
        hits = (await peer.request(3, "scribe/search", {"query": "lorem"}))["result"]["hits"]
        assert len(hits) == 3
        refused = await peer.request(4, "scribe/appendEntry", {"text": "x"})
        assert refused["error"]["code"] == -32013
        assert "read-only" in refused["error"]["message"] and "writable" in refused["error"]["message"]
        assert any("read-only" in m for m in shown(peer))
        assert (await peer.request(5, "scribe/status", {}))["result"]["storeReadOnly"] is True
    finally:
        await peer.close()
    done = run_cli(repo, "append", "x")
    assert done.returncode == 1 and "read-only" in done.stderr


def test_a_read_only_checkout_says_where_else_the_store_can_be(small_disk: Path, tmp_path: Path) -> None:
    from .helpers import make_git_repo

    repo = make_git_repo(small_disk / "repo")
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    refused = run_cli(repo, "start")
    assert refused.returncode == 1 and "--store DIR" in refused.stderr and "$SCRIBE_DIR" in refused.stderr
    elsewhere = tmp_path / "store"
    started = run_cli(repo, "--store", str(elsewhere), "start")
    assert started.returncode == 0, started.stderr
    assert (elsewhere / "scribe.db").is_file()


async def test_a_full_disk_refuses_writes_clearly_and_keeps_serving(small_disk: Path) -> None:
    from .helpers import make_git_repo

    repo = make_git_repo(small_disk / "repo")
    make_store(repo, notes=3)
    peer = await RawPeer.start(repo)
    try:
        filler = small_disk / "filler"
        with filler.open("wb", buffering=0) as handle:  # unbuffered: close has nothing to flush
            try:
                while True:
                    handle.write(b"\0" * 65536)
            except OSError:
                pass
        answers = [
            await peer.request(10 + i, "scribe/appendEntry", {"text": "big " * 4000}) for i in range(5)
        ]
        failed = [a for a in answers if "error" in a]
        assert failed, "the disk never filled"
        assert all(a["error"]["code"] == -32013 for a in failed)
        assert any("disk is full" in a["error"]["message"] for a in failed)
        assert "result" in await peer.request(20, "scribe/listSessions", {})
        filler.unlink()
        assert "result" in await peer.request(21, "scribe/appendEntry", {"text": "room again"})
    finally:
        await peer.close()


async def test_worklogs_behind_the_store_are_rendered_at_start(repo: Path) -> None:
    """What a kill -9 between the commit and the render leaves: an entry the worklog lacks."""
    make_store(repo, notes=1)
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    session_id = db.execute("SELECT id FROM sessions").fetchone()[0]
    db.execute(
        "INSERT INTO entries (session_id, at, kind, text) VALUES (?, '2026-12-01T10:00:00.000Z', 'note', ?)",
        (session_id, "committed before the crash"),
    )
    db.execute("UPDATE sessions SET entry_count = entry_count + 1")
    db.commit()
    db.close()
    assert "committed before the crash" not in (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    peer = await RawPeer.start(repo)
    try:
        assert "result" in await peer.request(2, "scribe/status", {})
    finally:
        await peer.close()
    assert "committed before the crash" in (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert run_cli(repo, "validate").returncode == 0


# -- recording survives -----------------------------------------------------------------------


async def save_until_reported(peer: RawPeer, path: bytes, reported: Callable[[dict], bool]) -> None:
    """Save ``path`` until a ``scribe/activity`` push satisfies ``reported``: the recorder
    arms its watch shortly after initialize, and a save before that is (rightly) nobody's
    activity."""
    for attempt in range(40):
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC)
        os.write(fd, f"x = {attempt}\n".encode())
        os.close(fd)
        try:
            await notifications_until(
                peer, lambda n: n["method"] == "scribe/activity" and reported(n), timeout=0.5
            )
            return
        except TimeoutError:
            continue
    raise AssertionError(f"saving {path!r} was never reported")


@pytest.mark.parametrize("watch", ["events", "poll"])
async def test_a_file_name_that_is_not_utf8_does_not_end_recording(
    repo: Path, watch: str, user_config: Callable[[str], Path]
) -> None:
    # events: inotify on Linux (names as bytes: nothing fails); poll, or events elsewhere:
    # watchfiles, whose Rust side fails a batch on such a name and is restarted.
    user_config(f'watch = "{watch}"\npoll_interval = 0.05\n')
    inotify = watch == "events" and sys.platform.startswith("linux")
    peer = await RawPeer.start(repo)
    try:
        await peer.request(2, "scribe/startSession", {})
        await save_until_reported(
            peer,
            os.fsencode(repo) + b"/bad\xff.txt",
            lambda n: any(f["path"] == "bad\\xff.txt" for f in n["params"]["files"]),
        )
        await asyncio.sleep(0.3)
        (repo / "normal.py").write_text("print('saved after the odd name')\n")
        await notifications_until(
            peer,
            lambda n: (
                n["method"] == "scribe/activity"
                and any(f["path"] == "normal.py" for f in n["params"]["files"])
            ),
        )
        status = (await peer.request(3, "scribe/status", {}))["result"]["watcher"]
        if inotify:
            assert status["running"] and status["restarts"] == 0 and status["lastError"] is None
            assert not any("file watcher failed" in m for m in shown(peer))
        else:
            assert status["running"] and status["restarts"] >= 1 and "decode" in status["lastError"]
            assert any("file watcher failed" in m for m in shown(peer))
    finally:
        await peer.close()


# -- graceful ends ----------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


@pytest.mark.parametrize("how", ["sigterm", "sigint", "stdin_eof", "shutdown_exit"])
async def test_every_way_of_ending_flushes_pending_activity_and_leaves_nothing(repo: Path, how: str) -> None:
    (repo / ".scribe").mkdir()
    (repo / ".scribe" / "config.toml").write_text("activity_window = 60\n")  # held back until the end
    peer = await RawPeer.start(repo)
    await peer.request(2, "scribe/startSession", {})
    await save_until_reported(peer, bytes(repo / "pending.py"), lambda n: True)
    pid = peer.proc.pid
    if how == "sigterm":
        peer.proc.send_signal(signal.SIGTERM)
    elif how == "sigint":
        peer.proc.send_signal(signal.SIGINT)
    elif how == "stdin_eof":
        peer.stdin.close()
    else:
        await peer.request(3, "shutdown")
        await peer.send({"jsonrpc": "2.0", "method": "exit"})
    code = await asyncio.wait_for(peer.proc.wait(), 15)
    assert code in (0, 1, 128 + signal.SIGTERM, 128 + signal.SIGINT)
    assert "Traceback" not in peer.stderr_text()
    assert children_of(pid) == []
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert "Changes: 1 file(s)" in worklog and "pending.py" in worklog
    # The lease is free: a new process records at once.
    import fcntl

    with (repo / ".scribe" / "recorder.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if still held


async def test_git_disappearing_mid_session_is_reported(repo: Path, tmp_path: Path) -> None:
    import shutil

    git_path = shutil.which("git")
    assert git_path is not None
    bare_bin = tmp_path / "bin"  # a PATH with python but no git
    bare_bin.mkdir()
    peer = await RawPeer.start(repo, env={"PATH": str(bare_bin)})
    try:
        await peer.request(2, "scribe/startSession", {})
        (repo / "a.py").write_text("x = 1\n")
        subprocess.run([git_path, "add", "a.py"], cwd=repo, check=True)  # noqa: ASYNC221
        subprocess.run([git_path, "commit", "-q", "-m", "a commit"], cwd=repo, check=True)  # noqa: ASYNC221
        note = await notifications_until(
            peer, lambda n: n["method"] == "window/showMessage" and "git" in n["params"]["message"]
        )
        assert "not installed" in note["params"]["message"]
        watcher = (await peer.request(3, "scribe/status", {}))["result"]["watcher"]
        assert watcher["lastError"].startswith("git: ")
        packet = (await peer.request(4, "scribe/getContext", {"sections": ["git"]}))["result"]
        section = packet["sections"]["git"]
        assert section["ok"] is False and section["error"] == "git is not installed (not found on PATH)"
    finally:
        await peer.close()


def test_a_client_that_stops_reading_never_stalls_the_server(repo: Path) -> None:
    """Answers pile up unread in the pipe: recording goes on (the loop never blocks in a
    write), and past the bound on unread output the connection is closed, not memory grown."""
    import time

    from .helpers import SERVER
    from .rawrpc import frame

    configure(repo, "activity_window = 0.5\nmax_message_bytes = 65536\n")
    log_file = repo.parent / "server.log"
    with log_file.open("w") as stderr:
        proc = subprocess.Popen(
            SERVER, cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr
        )
    assert proc.stdin is not None and proc.stdout is not None
    worklog = repo / ".scribe" / "worklogs" / "B-4242.md"

    def send(msg_id: int, method: str, params: dict) -> None:
        assert proc.stdin is not None
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}))
        proc.stdin.flush()

    def wait_for(predicate) -> bool:
        deadline = time.monotonic() + 10
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.05)
        return predicate()

    try:
        send(1, "initialize", {"capabilities": {}, "rootUri": repo.as_uri()})
        # Read the initialize answer (a request before it would get -32002), then no more.
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            header += proc.stdout.read(1)
        proc.stdout.read(int(header.split(b"Content-Length:")[1].split(b"\r\n")[0]))
        send(2, "scribe/startSession", {})
        assert wait_for(worklog.exists)
        # Far more output than a pipe holds (64 KiB), none of it read.
        for index in range(60):
            send(10 + index, "scribe/getContext", {"maxChars": 4000})
        (repo / "saved-while-stalled.py").write_text("x = 1\n")
        assert wait_for(lambda: "saved-while-stalled.py" in worklog.read_text())
        # Past 4 x max_message_bytes unread, the server gives up on this client and exits.
        for index in range(400):
            if proc.poll() is not None:
                break
            try:
                send(100 + index, "scribe/getContext", {"maxChars": 4000})
            except BrokenPipeError:
                break
        assert proc.wait(15) == 1
        assert "unread; closing the connection" in log_file.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
