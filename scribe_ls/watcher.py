"""Event-driven watching with watchfiles (Rust ``notify``), never polling.

Two watches:

- ``watch_store`` wakes a callback when another process commits to the store: every commit
  touches ``scribe.db-wal`` (or ``scribe.db`` at a checkpoint), so watching those two files
  gives cross-process notifications without asking SQLite in a loop.
- ``watch_tree`` turns changes in the work tree into batches of :class:`FileChange`, and
  tells apart the few ``.git`` files that mean "HEAD moved" (branch switch, commit). It skips
  ``.git`` internals, ``.scribe/``, everything ``.gitignore`` ignores and configured excludes.

Only the process holding the :class:`RecorderLease` runs ``watch_tree``.
"""

from __future__ import annotations

import asyncio
import fcntl
import fnmatch
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pathspec import GitIgnoreSpec
from watchfiles import Change, awatch

from .gitfiles import GitDirs
from .layout import DB_NAME, SCRIBE_DIR, Layout

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


def printable_path(path: str) -> str:
    """A path as it is recorded: bytes that are not UTF-8 (``os`` hands them over as
    surrogates) become ``\\xff`` escapes, so every path can be stored and sent."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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


# -- the store ----------------------------------------------------------------------------


async def watch_store(
    scribe_dir: Path, on_change: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    names = {DB_NAME, f"{DB_NAME}-wal"}

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
        while await pending is not None:
            await _relay_safely(on_change)
            pending = asyncio.ensure_future(anext(batches, None))
    finally:
        pending.cancel()


async def _relay_safely(on_change: Callable[[], Awaitable[None]]) -> None:
    try:
        await on_change()
    except Exception:  # a failed relay must not end the watch
        log.exception("relaying store changes failed")


# -- ignore rules -------------------------------------------------------------------------


class IgnoreRules:
    """gitignore semantics through pathspec: ``.gitignore`` files at every level (read
    lazily and cached), ``info/exclude``, plus the configured exclude globs."""

    def __init__(self, root: Path, git_dirs: GitDirs | None, excludes: Sequence[str]) -> None:
        self.root = root
        self.excludes = tuple(excludes)
        self._specs: dict[str, GitIgnoreSpec | None] = {}
        self._info_exclude: GitIgnoreSpec | None = None
        if git_dirs is not None:
            self._info_exclude = _read_spec(git_dirs.common_dir / "info" / "exclude")

    def _spec_for(self, directory: str) -> GitIgnoreSpec | None:
        if directory not in self._specs:
            self._specs[directory] = _read_spec(self.root / directory / ".gitignore")
        return self._specs[directory]

    def forget(self, directory: str) -> None:
        """A ``.gitignore`` in ``directory`` changed: read it again next time."""
        self._specs.pop(directory, None)

    def ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        if is_dir:
            return self._dir_ignored(rel) or any(fnmatch.fnmatch(rel, glob) for glob in self.excludes)
        if self.excludes and any(fnmatch.fnmatch(rel, glob) for glob in self.excludes):
            return True
        verdict: bool | None = None
        if self._info_exclude is not None:
            verdict = _check(self._info_exclude, rel, verdict)
        parts = rel.split("/")
        # Outer files first; a deeper .gitignore (or a later line) overrides an outer one.
        for depth in range(len(parts)):
            directory = "/".join(parts[:depth])
            spec = self._spec_for(directory)
            if spec is not None:
                verdict = _check(spec, "/".join(parts[depth:]), verdict)
            if verdict and depth < len(parts) - 1:
                # git does not look inside an ignored directory at all.
                prefix = "/".join(parts[: depth + 1])
                if self._dir_ignored(prefix):
                    return True
        return bool(verdict)

    def _dir_ignored(self, rel_dir: str) -> bool:
        parts = rel_dir.split("/")
        verdict: bool | None = None
        if self._info_exclude is not None:
            verdict = _check(self._info_exclude, rel_dir + "/", verdict)
        for depth in range(len(parts)):
            spec = self._spec_for("/".join(parts[:depth]))
            if spec is not None:
                verdict = _check(spec, "/".join(parts[depth:]) + "/", verdict)
        return bool(verdict)


def _check(spec: GitIgnoreSpec, rel: str, verdict: bool | None) -> bool | None:
    result = spec.check_file(rel).include
    return verdict if result is None else result


def _read_spec(path: Path) -> GitIgnoreSpec | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return GitIgnoreSpec.from_lines(lines) if lines else None


# -- the work tree ------------------------------------------------------------------------


class TreeFilter:
    """Decides, per raw event, whether it is work-tree activity, a git move, or noise."""

    def __init__(self, root: Path, git_dirs: GitDirs | None, rules: IgnoreRules) -> None:
        self.root = root
        self.rules = rules
        self.git_dir = git_dirs.git_dir if git_dirs else None
        self.common_dir = git_dirs.common_dir if git_dirs else None
        self._root_prefix = str(root) + os.sep

    def git_signal(self, path: str) -> bool:
        """HEAD, a branch ref or packed-refs changed (not their ``.lock`` files)."""
        if path.endswith(".lock"):
            return False
        if self.git_dir is not None and path == str(self.git_dir / "HEAD"):
            return True
        if self.common_dir is None:
            return False
        common = str(self.common_dir) + os.sep
        if not path.startswith(common):
            return False
        rest = path[len(common) :]
        return rest == "packed-refs" or rest.startswith("refs" + os.sep + "heads" + os.sep)

    def relative(self, path: str, *, is_dir: bool = False) -> str | None:
        """The work-tree path to record, or None for anything we never record."""
        if not path.startswith(self._root_prefix):
            return None
        rel = printable_path(path[len(self._root_prefix) :].replace(os.sep, "/"))
        first = rel.split("/", 1)[0]
        if first in (".git", SCRIBE_DIR):
            return None
        if self.rules.ignored(rel, is_dir=is_dir):
            return None
        return rel

    def scan(self, directory: str, limit: int) -> list[str]:
        """Files under a directory that just appeared (inotify only watches a new directory
        once it has seen it, so files written into it right away would be missed)."""
        found: list[str] = []
        stack = [directory]
        while stack and len(found) < limit:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                rel = self.relative(entry.path, is_dir=is_dir)
                if rel is None:
                    continue
                if is_dir:
                    stack.append(entry.path)
                elif len(found) < limit:
                    found.append(rel)
        return found


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
    return TreeBatch(tuple(files.values()), git_moved)


async def watch_tree(
    root: Path,
    tree_filter: TreeFilter,
    on_batch: Callable[[TreeBatch], Awaitable[None]],
    stop: asyncio.Event,
    *,
    watch_paths: Iterable[Path] = (),
) -> None:
    """Feed batches of work-tree changes to ``on_batch`` until ``stop`` is set."""
    async for raw in awatch(
        root,
        *watch_paths,
        watch_filter=None,  # we filter in a worker thread, not per event on the loop
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
    ):
        batch = await asyncio.to_thread(classify, tree_filter, raw)
        if batch is None:
            continue
        try:
            await on_batch(batch)
        except Exception:  # one bad batch must not end recording
            log.exception("recording a batch of %d changes failed", len(batch.files))


# -- the recorder lease -------------------------------------------------------------------


class RecorderLease:
    """An advisory ``flock`` on ``.scribe/recorder.lock``: whoever holds it records.

    The kernel drops the lock when its holder dies, even on ``kill -9``; a waiting process
    is blocked in ``flock`` in a daemon thread and wakes up at that moment, so take-over
    costs no polling and no delay.
    """

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self.path = layout.lock_path
        self._fd: int | None = None
        self._closed = False

    def _open(self) -> int:
        # Never through a link: a planted recorder.lock must not truncate another file.
        return self._layout.open_fd(self.path, os.O_RDWR | os.O_CREAT)

    def try_acquire(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._take(fd)
        return True

    def _take(self, fd: int) -> None:
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    async def wait_acquire(self) -> None:
        """Wait (without polling) until this process holds the lease."""
        loop = asyncio.get_running_loop()
        acquired: asyncio.Future[None] = loop.create_future()

        def block() -> None:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)  # returns when the holder releases or dies
            if self._closed:
                os.close(fd)
                return
            self._take(fd)
            loop.call_soon_threadsafe(lambda: acquired.done() or acquired.set_result(None))

        threading.Thread(target=block, name="scribe-lease", daemon=True).start()
        await acquired

    def release(self) -> None:
        self._closed = True
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
