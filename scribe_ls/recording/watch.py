"""Event-driven watching (inotify on Linux, watchfiles' Rust ``notify`` elsewhere), never polling.

Two watches:

- ``watch_store`` wakes a callback when another process commits to the store: every commit
  touches ``scribe.db-wal`` (or ``scribe.db`` at a checkpoint), so watching those two files
  gives cross-process notifications without asking SQLite in a loop. On Linux it is an
  inotify descriptor on the event loop (no thread, no wake-up while idle).
- ``watch_tree`` turns changes in the work tree into batches of :class:`FileChange`, and
  tells apart the few ``.git`` files that mean "HEAD moved" (branch switch, commit). It skips
  ``.git`` internals, ``.scribe/``, everything ``.gitignore`` ignores and configured excludes.
  On Linux it is inotify on the event loop, one watch per recorded directory, never inside
  an ignored tree (``inotify.py``); elsewhere, with polling or past the watch limit, watchfiles.

Only the process holding the recorder lease (``lease.py``) runs ``watch_tree``; what it
skips is decided by ``ignore.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from watchfiles import Change
from watchfiles._rust_notify import RustNotify  # watchfiles' documented Rust backend

from ..store.layout import CONFIG_NAME, DB_NAME
from .ignore import TreeFilter
from .inotify import DEBOUNCE_MS, InotifyBatches, new_inotify, tree_changes

log = logging.getLogger(__name__)

# watchfiles' defaults (1600 ms debounce, 50 ms step) add latency a user notices;
# DEBOUNCE_MS (50, shared with the inotify watches) and a 10 ms step keep a save's push
# prompt while still folding a burst of writes into one batch (save -> push: bench/latency.py,
# bench/RESULTS.md).
STEP_MS = 10
# The Rust side wakes every step to look for changes (taking the GIL): an idle watch costs
# CPU at every step, and a daemon recording 5 roots runs 10 of them (bench/idle.py and
# bench/daemon.py; bench/RESULTS.md, "Scale, idle and concurrent writers"). A watch that
# saw nothing for HOT_SECONDS steps slower: the first change after a quiet spell takes up to
# two idle steps to arrive, the ones after it one hot step again.
HOT_SECONDS = 10.0
TREE_IDLE_STEP_MS = 100
STORE_IDLE_STEP_MS = 400
RUST_TIMEOUT_MS = 5000

# A new directory is scanned for files at most this deep in one batch (bounds a storm).
MAX_SCANNED_FILES = 20_000

_CHANGE_NAMES = {Change.added: "added", Change.modified: "modified", Change.deleted: "deleted"}

# watchfiles (Rust) cannot hand over a path that is not UTF-8 and fails the whole batch,
# naming the path with Rust's escapes: Unable to decode path "/repo/bad\xFF.txt" to string
_UNDECODABLE_RE = re.compile(r'Unable to decode path "(.*)" to string')
_RUST_ESCAPE_RE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\(.)")


def undecodable_path(error: BaseException) -> str | None:
    """The path a watchfiles decode failure names, as a str with surrogate escapes."""
    match = _UNDECODABLE_RE.search(str(error))
    if match is None:
        return None
    raw = bytearray()
    position = 0
    text = match.group(1)
    for found in _RUST_ESCAPE_RE.finditer(text):
        raw += text[position : found.start()].encode("utf-8")
        raw += bytes([int(found.group(1), 16)]) if found.group(1) else found.group(2).encode("utf-8")
        position = found.end()
    raw += text[position:].encode("utf-8")
    return os.fsdecode(bytes(raw))


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str  # relative to the root, with forward slashes
    change: str  # added | modified | deleted

    def to_wire(self) -> dict[str, str]:
        return {"path": self.path, "change": self.change}


@dataclass(frozen=True, slots=True)
class TreeBatch:
    files: tuple[FileChange, ...]
    git_moved: bool  # HEAD or a branch ref changed: a switch or a commit
    # The newest modification time among a few of the files (epoch seconds): when the save
    # happened, for the save -> push lag metric. None when nothing could be stat'ed.
    saved_at: float | None = None


# -- watching ---------------------------------------------------------------------------


class _Halt:
    """What the Rust loop asks every step: is the watch over? ``is_set`` is a C method (a
    list's length), not Python code: asked ten times a second per watch, a Python frame
    was most of an idle watch's cost. Set by the caller's stop, or by the watch's own end
    (a cancelled task cannot stop a thread; this does, within a step)."""

    __slots__ = ("_flag", "is_set")

    def __init__(self) -> None:
        self._flag: list[bool] = []
        self.is_set = self._flag.__len__

    def set(self) -> None:
        if not self._flag:
            self._flag.append(True)

    async def on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.set()


async def watch_changes(
    paths: Iterable[Path],
    stop: asyncio.Event,
    *,
    idle_step_ms: int,
    recursive: bool = True,
    poll_interval: float | None = None,
    keep: Callable[[Change, str], bool] | None = None,
) -> AsyncIterator[set[tuple[Change, str]]]:
    """Batches of changes under ``paths`` until ``stop`` is set: watchfiles' Rust watcher
    driven as ``awatch`` drives it, but with a step that slows to ``idle_step_ms`` once
    nothing it keeps happened for HOT_SECONDS (see there). ``keep`` filters changes."""
    halt = _Halt()
    stopping = asyncio.ensure_future(halt.on(stop))
    notify = RustNotify(
        [str(p) for p in paths],
        False,
        poll_interval is not None,
        int((poll_interval or 0.3) * 1000),
        recursive,
        False,
    )
    # A thread of its own, as awatch has: a watch blocks its thread for good, and asyncio's
    # default executor (6 threads on 2 cores) is what classify and other work run in.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-watch")
    loop = asyncio.get_running_loop()
    running: asyncio.Future[Any] | None = None
    last_change = float("-inf")
    try:
        while True:
            hot = time.monotonic() - last_change < HOT_SECONDS
            step = STEP_MS if hot else idle_step_ms
            # The stub asks for an AbstractEvent; the Rust loop calls only is_set(), which _Halt has.
            watch = cast(Callable[..., Any], notify.watch)
            running = loop.run_in_executor(executor, watch, DEBOUNCE_MS, step, RUST_TIMEOUT_MS, halt)
            # Shielded: a cancelled watch waits below for the thread to leave notify.watch
            # (closing the watcher while it runs there fails).
            raw = await asyncio.shield(running)
            if raw == "stop":
                return
            if isinstance(raw, str):  # "timeout" (nothing happened) or "signal"
                continue
            changes = {(Change(change), path) for change, path in raw}
            if keep is not None:
                changes = {c for c in changes if keep(*c)}
            if changes:
                last_change = time.monotonic()  # only what is kept makes the watch hot
                yield changes
    finally:
        halt.set()
        stopping.cancel()
        if running is not None and not running.done():
            await asyncio.wait({running}, timeout=2)  # it looks at halt every step
        if running is None or running.done():
            if running is not None and not running.cancelled():
                running.exception()  # retrieved: a failure after the end is nobody's news
            notify.close()
        executor.shutdown(wait=False)


# -- the store ----------------------------------------------------------------------------


# Seconds after a store batch to look at the change feed again (see watch_store).
RELAY_FOLLOW_UPS = (0.02, 0.1, 0.5)


async def store_file_batches(scribe_dir: Path, stop: asyncio.Event) -> AsyncIterator[set[str]]:
    """Names of the store's files (``scribe.db``, its WAL, ``config.toml``) changed in
    ``scribe_dir``, a batch at a time, until ``stop`` is set or the directory goes.

    On Linux an inotify descriptor read on the event loop: nothing wakes while nothing is
    written (a Rust watch wakes every step). Elsewhere, or without inotify, watchfiles."""
    names = {DB_NAME, f"{DB_NAME}-wal", CONFIG_NAME}
    inotify = _inotify_for(scribe_dir)
    if inotify is None:

        def store_files(change: Change, path: str) -> bool:
            return Path(path).name in names

        async for changes in watch_changes(
            [scribe_dir], stop, idle_step_ms=STORE_IDLE_STEP_MS, recursive=False, keep=store_files
        ):
            yield {Path(path).name for _, path in changes}
        return
    from inotify_simple import flags

    gone = flags.DELETE_SELF | flags.MOVE_SELF | flags.IGNORED | flags.UNMOUNT
    batches = InotifyBatches(inotify)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        # Every writer of the store wakes every other process: one relay per burst of
        # writes, not per write.
        while (events := await batches.next(stopping)) is not None:
            batch: set[str] = set()
            for event in events:
                if event.mask & flags.Q_OVERFLOW:
                    batch.update(names)  # events were lost: anything may have changed
                elif event.name in names:
                    batch.add(event.name)
            if batch:
                yield batch
            if any(event.mask & gone for event in events):
                return  # the directory was removed or moved: nothing more to watch here
    finally:
        stopping.cancel()
        batches.close()


def _inotify_for(directory: Path) -> Any:
    """An inotify descriptor watching ``directory`` (not its subdirectories), or None where
    inotify is not available (not Linux, no inotify-simple, the watch limit reached)."""
    inotify = new_inotify()
    if inotify is None:
        return None
    from inotify_simple import flags

    try:
        mask = flags.MODIFY | flags.CLOSE_WRITE | flags.CREATE | flags.MOVED_TO | flags.DELETE_SELF
        inotify.add_watch(directory, mask | flags.MOVE_SELF | flags.ONLYDIR | flags.DONT_FOLLOW)
    except OSError as exc:
        inotify.close()
        log.info("no inotify watch on %s (%s): watching it with watchfiles", directory, exc)
        return None
    return inotify


async def watch_store(
    scribe_dir: Path,
    on_change: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    on_config: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Call ``on_change`` when the store's files change (another process committed), and
    ``on_config`` when ``config.toml`` does."""
    batches = store_file_batches(scribe_dir, stop).__aiter__()
    pending = asyncio.ensure_future(anext(batches, None))
    # The generator's first step sets up its watch before it awaits anything; after one
    # turn of the loop it is armed. A commit that landed before that (between the
    # caller's snapshot of the change feed and now) woke nobody: read the feed once.
    try:
        await asyncio.sleep(0)
        await _relay_safely(on_change)
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(anext(batches, None))
            if on_config is not None and CONFIG_NAME in batch:
                await _relay_safely(on_config)
            await _relay_safely(on_change)
            # A commit becomes visible when its WAL is synced and the shared index updated,
            # and neither writes the WAL again: a batch can arrive (10 ms after the last
            # write) before a slow fsync ends. Look again a few times, until the next batch.
            for delay in RELAY_FOLLOW_UPS:
                if (await asyncio.wait({pending}, timeout=delay))[0]:
                    break
                await _relay_safely(on_change)
    finally:
        pending.cancel()


async def _relay_safely(on_change: Callable[[], Awaitable[object]]) -> None:
    try:
        await on_change()
    except Exception:  # a failed relay must not end the watch
        log.exception("relaying store changes failed")


# -- ignore rules -------------------------------------------------------------------------


def classify(tree_filter: TreeFilter, raw: Iterable[tuple[Change, str]]) -> TreeBatch | None:
    """Blocking (stat, gitignore matching, scanning new directories): runs in a worker
    thread so a storm of events never stalls the event loop."""
    files: dict[str, FileChange] = {}
    git_moved = False
    for change, path in raw:
        if tree_filter.git_signal(path):
            git_moved = True
            continue
        is_dir = os.path.isdir(path)
        rel = tree_filter.relative(path, is_dir=is_dir)
        if rel is None:
            continue
        if is_dir:
            # A directory is not work; the files in it are.
            if change == Change.added:
                for found in tree_filter.scan(path, MAX_SCANNED_FILES - len(files)):
                    files.setdefault(found, FileChange(found, "added"))
            continue
        if rel == ".gitignore" or rel.endswith("/.gitignore"):
            tree_filter.rules.forget(rel.rpartition("/")[0])
        files[rel] = FileChange(rel, _CHANGE_NAMES.get(change, "modified"))
    if not files and not git_moved:
        return None
    return TreeBatch(tuple(files.values()), git_moved, _saved_at(tree_filter.root, list(files)[:5]))


def _saved_at(root: Path, paths: list[str]) -> float | None:
    times = []
    for path in paths:
        try:
            times.append(os.stat(root / path, follow_symlinks=False).st_mtime)
        except OSError:
            continue  # deleted, or a name the file system cannot hold
    return max(times) if times else None


async def watch_tree(
    root: Path,
    tree_filter: TreeFilter,
    on_batch: Callable[[TreeBatch], Awaitable[None]],
    stop: asyncio.Event,
    *,
    watch_paths: Iterable[Path] = (),
    poll_interval: float | None = None,
    on_armed: Callable[[], None] = lambda: None,
) -> None:
    """Feed batches of work-tree changes to ``on_batch`` until ``stop`` is set;
    ``on_armed`` is called once the watch is in place (a change from then on is seen).
    ``poll_interval``: stat the tree that often instead of waiting for events (a file
    system without inotify: a network mount, some containers)."""
    # On Linux an inotify watch on the loop, directory by directory, skipping ignored
    # trees: nothing wakes while nothing changes. Otherwise watchfiles.
    git_dirs = [d for d in (tree_filter.git_dir, tree_filter.common_dir) if d is not None]
    changes = await tree_changes(root, tree_filter, git_dirs, stop) if poll_interval is None else None
    if changes is None:
        changes = watch_changes(
            [root, *watch_paths],
            stop,
            idle_step_ms=TREE_IDLE_STEP_MS,
            poll_interval=poll_interval,
            keep=lambda change, path: tree_filter.worth_waking(path),
        )
    # inotify's watches are in place once tree_changes returns; watchfiles' from the first
    # step of its generator, a moment later.
    on_armed()
    # Filtered in a worker thread (classify), not per event on the loop.
    async for raw in changes:
        batch = await asyncio.to_thread(classify, tree_filter, raw)
        if batch is None:
            continue
        try:
            await on_batch(batch)
        except Exception:  # one bad batch must not end recording
            log.exception("recording a batch of %d changes failed", len(batch.files))


# -- the recorder lease -------------------------------------------------------------------
