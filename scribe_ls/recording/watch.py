"""Event-driven watching with watchfiles (Rust ``notify``), never polling.

Two watches:

- ``watch_store`` wakes a callback when another process commits to the store: every commit
  touches ``scribe.db-wal`` (or ``scribe.db`` at a checkpoint), so watching those two files
  gives cross-process notifications without asking SQLite in a loop.
- ``watch_tree`` turns changes in the work tree into batches of :class:`FileChange`, and
  tells apart the few ``.git`` files that mean "HEAD moved" (branch switch, commit). It skips
  ``.git`` internals, ``.scribe/``, everything ``.gitignore`` ignores and configured excludes.

Only the process holding the recorder lease (``lease.py``) runs ``watch_tree``; what it
skips is decided by ``ignore.py``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, awatch

from ..layout import CONFIG_NAME, DB_NAME
from .ignore import TreeFilter

log = logging.getLogger(__name__)

# watchfiles defaults (1600 ms debounce, 50 ms step) add ~50 ms+ of latency; these give
# ~15 ms on Linux while still folding a burst of writes into one batch.
DEBOUNCE_MS = 50
STEP_MS = 10

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


# -- the store ----------------------------------------------------------------------------


# Seconds after a store batch to look at the change feed again (see watch_store).
RELAY_FOLLOW_UPS = (0.02, 0.1, 0.5)


async def watch_store(
    scribe_dir: Path,
    on_change: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    on_config: Callable[[], Awaitable[object]] | None = None,
) -> None:
    """Call ``on_change`` when the store's files change (another process committed), and
    ``on_config`` when ``config.toml`` does."""
    names = {DB_NAME, f"{DB_NAME}-wal", CONFIG_NAME}

    def store_files(change: Change, path: str) -> bool:
        return Path(path).name in names

    batches = awatch(
        scribe_dir,
        watch_filter=store_files,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
        recursive=False,
    ).__aiter__()
    pending = asyncio.ensure_future(anext(batches, None))
    # The generator's first step sets up its inotify watch before it awaits anything; after
    # one turn of the loop it is armed. A commit that landed before that (between the
    # caller's snapshot of the change feed and now) woke nobody: read the feed once.
    try:
        await asyncio.sleep(0)
        await _relay_safely(on_change)
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(anext(batches, None))
            if on_config is not None and any(Path(path).name == CONFIG_NAME for _, path in batch):
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


async def _relay_safely(on_change: Callable[[], Awaitable[None]]) -> None:
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
) -> None:
    """Feed batches of work-tree changes to ``on_batch`` until ``stop`` is set.
    ``poll_interval``: stat the tree that often instead of waiting for events (a file
    system without inotify: a network mount, some containers)."""
    async for raw in awatch(
        root,
        *watch_paths,
        watch_filter=None,  # we filter in a worker thread, not per event on the loop
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
        force_polling=poll_interval is not None,
        poll_delay_ms=int((poll_interval or 0.3) * 1000),
    ):
        batch = await asyncio.to_thread(classify, tree_filter, raw)
        if batch is None:
            continue
        try:
            await on_batch(batch)
        except Exception:  # one bad batch must not end recording
            log.exception("recording a batch of %d changes failed", len(batch.files))


# -- the recorder lease -------------------------------------------------------------------
