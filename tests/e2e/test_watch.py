"""What wakes the watchers: the store's watch is an inotify descriptor on the event loop
(Linux), naming only the store's files; the tree's watch is woken (made hot) only by work
and git moves, never by the store's own commits or git's housekeeping; on Linux the tree's
watch is inotify, one watch per recorded directory, none inside ignored trees."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.git.files import find_git_dirs
from scribe_ls.recording.ignore import IgnoreRules, TreeFilter
from scribe_ls.recording.watch import _inotify_for, store_file_batches
from scribe_ls.rpc.client import ScribeClient

pytestmark = pytest.mark.timeout(30)


async def armed_store_watch(store: Path) -> tuple[asyncio.Event, Any, asyncio.Future[Any]]:
    """The store watch on ``store`` (made here), its stop event, the batches and the first
    batch pending, once armed (the watch is added before the generator's first wait)."""
    await asyncio.to_thread(store.mkdir)
    stop = asyncio.Event()
    batches = store_file_batches(store, stop).__aiter__()
    first = asyncio.ensure_future(anext(batches, None))
    await asyncio.sleep(0.05)
    return stop, batches, first


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
async def test_the_store_watch_names_only_the_store_files_and_ends_with_its_directory(tmp_path: Path) -> None:
    store = tmp_path / ".scribe"
    _, batches, first = await armed_store_watch(store)
    (store / "notes.txt").write_text("not the store\n")
    (store / "scribe.db-wal").write_bytes(b"\0" * 32)
    assert await asyncio.wait_for(first, 5) == {"scribe.db-wal"}
    (store / "config.toml").write_text("idle_gap = 60\n")
    assert await asyncio.wait_for(anext(batches, None), 5) == {"config.toml"}
    # The directory goes (a deleted checkout): the watch ends instead of waiting forever.
    shutil.rmtree(store)
    rest = []
    while (batch := await asyncio.wait_for(anext(batches, None), 5)) is not None:
        rest.append(batch)
    assert all(b <= {"scribe.db", "scribe.db-wal", "config.toml"} for b in rest)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
async def test_writes_while_the_consumer_is_busy_are_kept_and_do_not_spin_the_loop(tmp_path: Path) -> None:
    """The descriptor is level-triggered: events that arrive while the consumer works are
    read at once and come as the next batch; the event loop does not spin meanwhile."""
    import time

    store = tmp_path / ".scribe"
    stop, batches, first = await armed_store_watch(store)
    (store / "scribe.db").write_bytes(b"x")
    assert await asyncio.wait_for(first, 5) == {"scribe.db"}
    # The consumer is busy (no anext) while other processes commit.
    cpu = time.process_time()
    for n in range(5):
        (store / "scribe.db-wal").write_bytes(b"y" * (n + 1))
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.25)
    spent = time.process_time() - cpu
    assert spent < 0.15, f"the loop spun for {spent:.2f} s of CPU in 0.5 s"
    assert await asyncio.wait_for(anext(batches, None), 5) == {"scribe.db-wal"}
    stop.set()
    assert await asyncio.wait_for(anext(batches, None), 5) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
async def test_a_stopped_store_watch_ends_and_a_link_is_not_watched(tmp_path: Path) -> None:
    store = tmp_path / "store"
    stop, _, pending = await armed_store_watch(store)
    stop.set()
    assert await asyncio.wait_for(pending, 5) is None
    # A planted link in place of the directory is never followed by the watch.
    link = tmp_path / "link"
    link.symlink_to(store, target_is_directory=True)
    assert _inotify_for(link) is None


def test_the_tree_watch_wakes_for_work_and_git_moves_only(repo: Path) -> None:
    dirs = find_git_dirs(repo)
    tree = TreeFilter(repo, dirs, IgnoreRules(repo, dirs, ()), repo / ".scribe")
    wakes = {
        "src/app.py": True,
        ".git/HEAD": True,
        ".git/refs/heads/feature/B-1": True,
        ".git/refs/remotes/origin/main": True,
        ".git/packed-refs": True,
        ".scribe/scribe.db-wal": False,  # the store's own commits
        ".scribe/worklogs/B-4242.md": False,
        ".git/index": False,  # `git status` refreshing it (our own context packets do)
        ".git/objects/ab/cdef": False,
        ".git/logs/HEAD": False,
        ".git/refs/heads/main.lock": False,
    }
    assert {path: tree.worth_waking(str(repo / path)) for path in wakes} == wakes


def inotify_watches(pid: int) -> int:
    """How many inotify watches process ``pid`` holds (its fdinfo lists one line each)."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == "anon_inode:inotify":
                count += (Path(f"/proc/{pid}/fdinfo") / fd.name).read_text().count("inotify wd:")
        except OSError:
            continue
    return count


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
async def test_the_tree_watch_skips_ignored_trees_and_follows_new_directories(repo: Path) -> None:
    (repo / ".gitignore").write_text("node_modules/\nbuild/\n")
    for n in range(300):  # a big ignored tree: none of it is watched
        (repo / "node_modules" / f"pkg{n}" / "lib").mkdir(parents=True)
    (repo / "build" / "out").mkdir(parents=True)
    (repo / "src" / "app").mkdir(parents=True)
    # A planted link to a tree elsewhere: never followed, nothing in it watched.
    outside = repo.parent / "outside"
    for n in range(50):
        (outside / f"d{n}").mkdir(parents=True)
    (repo / "src" / "linked").symlink_to(outside, target_is_directory=True)
    async with await ScribeClient.spawn(repo) as client:
        await client.request("scribe/startSession", {})
        await save_until_pushed(client, repo / "src" / "app" / "main.py", "src/app/main.py")
        # root, src, src/app, .git + refs/heads (+ its subdirectories), .scribe: a handful,
        # not the 600 directories of node_modules.
        watched = inotify_watches(client.process.pid)
        assert 4 <= watched < 30, watched
        # A directory made after the start is watched (and what is written into it at once is seen).
        deep = repo / "src" / "new" / "deeper"
        deep.mkdir(parents=True)
        (deep / "first.py").write_text("x = 1\n")
        await save_until_pushed(client, deep / "second.py", "src/new/deeper/second.py")
        assert inotify_watches(client.process.pid) == watched + 2
        # Saves inside an ignored tree, or behind the link, push nothing.
        (repo / "node_modules" / "pkg1" / "lib" / "index.js").write_text("x")
        (outside / "d7" / "behind_the_link.py").write_text("z = 3\n")
        (repo / "src" / "app" / "marker.py").write_text("y = 2\n")
        while True:
            params = await client.next_notification("scribe/activity", timeout=5)
            paths = [f["path"] for f in params["files"]]
            assert not any(p.startswith(("node_modules/", "src/linked/")) for p in paths), paths
            if "src/app/marker.py" in paths:
                break


async def save_until_pushed(client: ScribeClient, path: Path, rel: str) -> None:
    """Write ``path`` until a ``scribe/activity`` push names ``rel`` (the recorder arms its
    watch shortly after the session starts)."""
    for attempt in range(20):
        await asyncio.to_thread(path.write_text, f"v = {attempt}\n")
        try:
            while True:
                params = await client.next_notification("scribe/activity", timeout=1)
                if rel in [f["path"] for f in params["files"]]:
                    return
        except TimeoutError:
            continue
    raise AssertionError(f"no scribe/activity push for {rel}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
async def test_a_tree_with_more_directories_than_the_limit_is_left_to_watchfiles(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scribe_ls.recording import inotify

    for n in range(8):
        (repo / "src" / f"d{n}").mkdir(parents=True)
    dirs = find_git_dirs(repo)
    tree = TreeFilter(repo, dirs, IgnoreRules(repo, dirs, ()), repo / ".scribe")
    stop = asyncio.Event()
    assert await inotify.tree_changes(repo, tree, [dirs.git_dir], stop) is not None
    monkeypatch.setattr(inotify, "MAX_TREE_WATCHES", 5)
    assert await inotify.tree_changes(repo, tree, [dirs.git_dir], stop) is None  # watchfiles then
