"""inotify read on the event loop (Linux): watches that cost nothing while nothing happens.

watchfiles' Rust watcher looks for events every ``step`` in a thread of its own, so an idle
watch still wakes ten times a second; an inotify descriptor added to the event loop wakes it
only when the kernel has events. Used for the store's directory and, when it fits the
kernel's watch limit, the work tree; elsewhere (macOS, Windows, no inotify, polling) the
callers use watchfiles.

The work tree is watched directory by directory, never descending into what git ignores
(``node_modules``, build outputs), ``.git`` internals or the store: a 100k-file repository
with a big ignored tree costs one watch per tracked directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from watchfiles import Change

from .ignore import TreeFilter

log = logging.getLogger(__name__)

# A batch is gathered until a step passes with nothing new, at most DEBOUNCE_MS (watchfiles
# gathers the same way, watch.py). inotify is read every INOTIFY_STEP_MS: a save or a commit
# is a burst of writes within a few ms, and its batch is out one quiet step later.
DEBOUNCE_MS = 50
INOTIFY_STEP_MS = 5
# Directories watched in one work tree at most (each inotify watch is ~1 KiB of kernel
# memory); a tree with more is left to watchfiles.
MAX_TREE_WATCHES = 100_000


def new_inotify() -> Any:
    """A non-blocking inotify instance, or None where there is none (not Linux, no
    inotify-simple, the instance limit reached)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        from inotify_simple import INotify
    except ImportError:
        return None
    try:
        return INotify(nonblocking=True)
    except OSError as exc:
        log.info("no inotify (%s): watching with watchfiles", exc)
        return None


class InotifyBatches:
    """Events of one inotify descriptor, a batch at a time, read on the event loop.

    Between batches the descriptor is not read: it is level-triggered (one left readable
    would spin the loop), and meanwhile the kernel queues the events and merges repeats
    (a commit writes the WAL several times). A batch is read at once when the descriptor
    becomes readable, then once a step until a step brings nothing (one wake-up per step,
    not per event)."""

    def __init__(self, inotify: Any) -> None:
        self.inotify = inotify
        self._loop = asyncio.get_running_loop()
        self._readable = asyncio.Event()

    def _on_readable(self) -> None:
        self._loop.remove_reader(self.inotify.fd)
        self._readable.set()

    def read_now(self) -> list[Any]:
        with contextlib.suppress(BlockingIOError):
            return list(self.inotify.read(timeout=0))
        return []

    async def next(self, stopping: asyncio.Future[Any]) -> list[Any] | None:
        """The next batch (possibly empty), or None once ``stopping`` is done."""
        self._readable.clear()
        self._loop.add_reader(self.inotify.fd, self._on_readable)
        waiting = asyncio.ensure_future(self._readable.wait())
        await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping.done():
            waiting.cancel()
            self._loop.remove_reader(self.inotify.fd)
            return None
        deadline = self._loop.time() + DEBOUNCE_MS / 1000
        events = self.read_now()
        while self._loop.time() < deadline:
            await asyncio.sleep(INOTIFY_STEP_MS / 1000)
            more = self.read_now()
            if not more:
                break
            events += more
        return events

    def close(self) -> None:
        self._loop.remove_reader(self.inotify.fd)
        self.inotify.close()


# -- the work tree --------------------------------------------------------------------------


class TreeWatches:
    """The inotify watches of a work tree and its git directories: which descriptor is
    which directory, set up (and extended as directories appear) by walking the tree."""

    def __init__(self, inotify: Any, root: Path, tree_filter: TreeFilter, git_dirs: Iterable[Path]) -> None:
        from inotify_simple import flags

        self.inotify = inotify
        self.root = root
        self.tree_filter = tree_filter
        self.git_dirs = sorted({Path(d) for d in git_dirs})
        # Where branch refs live: HEAD moving to a new commit changes a file in one of them.
        self.ref_dirs = [d / "refs" / kind for d in self.git_dirs for kind in ("heads", "remotes")]
        self.dirs: dict[int, str] = {}
        self.flags = flags
        self.mask = (
            flags.CREATE
            | flags.MODIFY
            | flags.CLOSE_WRITE
            | flags.ATTRIB
            | flags.DELETE
            | flags.MOVED_FROM
            | flags.MOVED_TO
            | flags.DELETE_SELF
            | flags.MOVE_SELF
            | flags.ONLYDIR
            | flags.DONT_FOLLOW
            | flags.EXCL_UNLINK
        )

    def add_tree(self, top: str) -> None:
        """Watch ``top`` and every directory under it that is recorded (blocking: runs in a
        worker thread). Raises OSError(ENOSPC) past the kernel's or our own limit."""
        self._walk(top, lambda path: self.tree_filter.relative(path, is_dir=True) is not None)

    def rewalk(self) -> bool:
        """After lost events (the kernel's queue filled, or the root moved): watch what
        appeared meanwhile. False when the work tree is gone."""
        if not os.path.isdir(self.root):
            return False
        log.warning("inotify events were lost under %s; some changes were not seen", self.root)
        self.add_tree(str(self.root))
        return True

    def add_git_dirs(self) -> None:
        """HEAD and packed-refs (the directory itself) and the branch refs under it."""
        for git_dir in self.git_dirs:
            self._add(str(git_dir))
        for refs in self.ref_dirs:
            self._walk(str(refs), lambda _: True)

    def add_new(self, directory: str) -> None:
        """A directory that appeared: under a git directory's branch refs (a new branch
        ``feature/x`` makes ``refs/heads/feature``), or a recorded one of the work tree."""
        if any(Path(directory).is_relative_to(refs) for refs in self.ref_dirs):
            self._walk(directory, lambda _: True)
        elif self.tree_filter.relative(directory, is_dir=True) is not None:
            self.add_tree(directory)

    def _walk(self, top: str, keep: Callable[[str], bool]) -> None:
        """Watch ``top`` and the directories under it that ``keep`` accepts (never through
        a link: a linked directory is not descended into)."""
        stack = [top]
        while stack:
            directory = stack.pop()
            if not self._add(directory):
                continue
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue  # gone, or not ours to read
            stack += [e.path for e in entries if e.is_dir(follow_symlinks=False) and keep(e.path)]

    def _add(self, directory: str) -> bool:
        if len(self.dirs) >= MAX_TREE_WATCHES:
            raise OSError(errno.ENOSPC, f"more than {MAX_TREE_WATCHES} directories to watch")
        try:
            wd = self.inotify.add_watch(directory, self.mask)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise
            return False  # gone meanwhile, a link, not a directory
        self.dirs[wd] = directory
        return True

    def changes(self, events: list[Any]) -> tuple[set[tuple[Change, str]], list[str], bool]:
        """A batch's changes as watchfiles gives them, the new directories to watch, and
        whether events were lost (the queue overflowed) or the root went."""
        flags = self.flags
        changes: dict[str, Change] = {}
        new_dirs: list[str] = []
        lost = False
        for event in events:
            if event.mask & flags.Q_OVERFLOW:
                lost = True
                continue
            directory = self.dirs.get(event.wd)
            if directory is None:
                continue
            if event.mask & flags.IGNORED:
                self.dirs.pop(event.wd, None)
                continue
            if event.mask & (flags.DELETE_SELF | flags.MOVE_SELF):
                if directory == str(self.root):
                    lost = True
                continue
            path = os.path.join(directory, event.name) if event.name else directory
            before = changes.get(path)
            if event.mask & (flags.CREATE | flags.MOVED_TO):
                # Deleted, then there again in one batch: an editor's atomic save, a change.
                changes[path] = Change.modified if before == Change.deleted else Change.added
                if event.mask & flags.ISDIR:
                    new_dirs.append(path)
            elif event.mask & (flags.DELETE | flags.MOVED_FROM):
                changes[path] = Change.deleted
            elif before is None:
                changes[path] = Change.modified  # written: a new file stays "added"
        return {(change, path) for path, change in changes.items()}, new_dirs, lost


async def tree_changes(
    root: Path, tree_filter: TreeFilter, git_dirs: Iterable[Path], stop: asyncio.Event
) -> AsyncIterator[set[tuple[Change, str]]] | None:
    """Batches of raw changes in the work tree and its git directories (the shape
    watchfiles gives), or None when inotify cannot watch this tree (not Linux, too many
    directories for the watch limit): then the caller uses watchfiles."""
    inotify = new_inotify()
    if inotify is None:
        return None
    watches = TreeWatches(inotify, root, tree_filter, git_dirs)
    try:
        await asyncio.to_thread(watches.add_tree, str(root))
        await asyncio.to_thread(watches.add_git_dirs)
    except OSError as exc:
        inotify.close()
        log.info("not watching %s with inotify (%s): using watchfiles", root, exc)
        return None
    log.info("watching %s: %d directories (inotify)", root, len(watches.dirs))
    return _tree_batches(watches, stop)


async def _tree_batches(watches: TreeWatches, stop: asyncio.Event) -> AsyncIterator[set[tuple[Change, str]]]:
    batches = InotifyBatches(watches.inotify)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while (events := await batches.next(stopping)) is not None:
            changes, new_dirs, lost = watches.changes(events)
            for directory in new_dirs:
                await asyncio.to_thread(watches.add_new, directory)
            if lost and not await asyncio.to_thread(watches.rewalk):
                return  # the work tree went
            changes = {c for c in changes if watches.tree_filter.worth_waking(c[1])}
            if changes:
                yield changes
    finally:
        stopping.cancel()
        batches.close()
