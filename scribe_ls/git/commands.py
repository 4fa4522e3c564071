"""Git access without blocking the event loop.

Cheap facts (the current branch, the HEAD commit, where the git dir is) are read straight
from the files git keeps (:mod:`scribe_ls.git.files`), in a worker thread: no process start
on the hot path. Anything else runs git as an asyncio subprocess, bounded by a semaphore and
a timeout, hardened against the repository (:mod:`scribe_ls.git.safety`) and with optional
locks off so we never fight the user's own git.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..metrics import METRICS
from ..repofiles import printable_name
from . import safety as gitsafe
from .files import GitDirs, read_branch

log = logging.getLogger(__name__)

GIT_TIMEOUT = 10.0
MAX_CONCURRENT_GIT = 4
# One bound per event loop (a semaphore belongs to the loop that first waits on it).
_git_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


T = TypeVar("T")


class GitError(Exception):
    """git failed, timed out, or is not installed; the message says which."""


# Identical work in flight is shared: a git call by (loop, root, args), the hardened
# environment by (loop, root): the sections of a packet start their git calls together and
# share one look at the repository's configuration.
_in_flight: dict[Hashable, asyncio.Future[Any]] = {}


async def run_git(
    root: Path,
    *args: str,
    timeout: float = GIT_TIMEOUT,
    errors: str = "backslashreplace",
    max_bytes: int | None = None,
) -> str:
    """``git <args>`` in ``root``, hardened (:mod:`scribe_ls.git.safety`: nothing the repository
    names is run, the work tree is ``root``); at most MAX_CONCURRENT_GIT run at once per
    process, and a call identical to one still running waits for that one instead of
    starting another. ``max_bytes``: read at most that much output, plus one byte to say
    there was more (git is then stopped: a 500 MB diff never sits in memory). Output is
    decoded with ``errors``: by default bytes that are not UTF-8 (a branch, a file name, a
    commit subject) read as ``\\xff`` escapes, as file names are recorded."""

    async def start() -> bytes:
        return await _spawn(root, await _environment(root, timeout), args, timeout, max_bytes)

    out: bytes = await _shared(("git", root, args, max_bytes), start)
    return out.decode("utf-8", errors)


async def _shared(key: tuple[Any, ...], start: Callable[[], Awaitable[T]]) -> T:
    key = (id(asyncio.get_running_loop()), *key)
    future = _in_flight.get(key)
    if future is None:
        future = asyncio.ensure_future(start())
        _in_flight[key] = future
        future.add_done_callback(lambda _: _in_flight.pop(key, None))
    # shield: one caller giving up must not kill the work the others wait for.
    return await asyncio.shield(future)


async def _environment(root: Path, timeout: float) -> dict[str, str]:
    """The hardened environment for ``root`` (shared by the calls that start meanwhile)."""
    return await _shared(("environment", root), lambda: _resolve_environment(root, timeout))


async def _resolve_environment(root: Path, timeout: float) -> dict[str, str]:
    """The repository's filter drivers as last read, or read now (one ``git config --list``)."""
    fresh = gitsafe.fresh_overrides(root)  # looked at just now (a packet's RepoFacts)
    known: tuple[GitDirs, tuple[tuple[str, str], ...] | None]
    try:
        known = fresh if fresh is not None else await asyncio.to_thread(gitsafe.cached_overrides, root)
    except gitsafe.NotARepository as exc:
        raise GitError(str(exc)) from None
    dirs, overrides = known
    if overrides is None:
        args, env = gitsafe.CONFIG_LIST_ARGS, gitsafe.environment(root, dirs)
        listed = await _shared(("git", root, args), lambda: _spawn(root, env, args, timeout))
        overrides = gitsafe.remember(root, dirs, listed)
    return gitsafe.environment(root, dirs, overrides)


async def _read_capped(stream: asyncio.StreamReader, limit: int) -> tuple[bytes, bool]:
    """The first ``limit`` bytes of ``stream`` and one more if there was more (then True);
    nothing past that is read."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(64 * 1024)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[: limit + 1], True


async def _drain_capped(stream: asyncio.StreamReader, keep: int) -> bytes:
    """Everything ``stream`` says, keeping only its last ``keep`` bytes (git's stderr)."""
    tail = b""
    while chunk := await stream.read(64 * 1024):
        tail = (tail + chunk)[-keep:]
    return tail


async def _capped_output(proc: asyncio.subprocess.Process, max_bytes: int) -> tuple[bytes, bytes, bool]:
    assert proc.stdout is not None and proc.stderr is not None
    err_task = asyncio.ensure_future(_drain_capped(proc.stderr, 64 * 1024))
    try:
        out, cut = await _read_capped(proc.stdout, max_bytes)
        if cut:
            proc.kill()  # the rest is not wanted: stop git writing it
        await proc.wait()
        return out, await err_task, cut
    finally:
        err_task.cancel()


async def _spawn(
    root: Path, env: dict[str, str], args: tuple[str, ...], timeout: float, max_bytes: int | None = None
) -> bytes:
    slots = _git_slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_CONCURRENT_GIT))
    async with slots:
        started = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *gitsafe.argv(*args),
                cwd=root,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed (not found on PATH)") from exc
        cut = False
        try:
            if max_bytes is None:
                out, err = await asyncio.wait_for(proc.communicate(), timeout)
            else:
                out, err, cut = await asyncio.wait_for(_capped_output(proc, max_bytes), timeout)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from exc
        finally:
            METRICS.observe("git", (time.perf_counter() - started) * 1000)
            if proc.returncode is None:
                # Cancelled (the CLI ending, a section's own deadline): no git outlives us.
                proc.kill()
    if proc.returncode != 0 and not cut:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    return out


EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True, slots=True)
class StatusFile:
    path: str
    status: str  # modified | added | deleted | renamed | copied | untracked | conflicted | typechange
    staged: bool
    orig_path: str | None = None


@dataclass(frozen=True, slots=True)
class GitStatus:
    branch: str | None  # None when detached
    head: str | None  # None before the first commit
    upstream: str | None
    ahead: int
    behind: int
    files: tuple[StatusFile, ...]


_XY = {"M": "modified", "A": "added", "D": "deleted", "R": "renamed", "C": "copied", "T": "typechange"}


def _kind(xy: str) -> str:
    for char in (xy[0], xy[1]):
        if char in _XY:
            return _XY[char]
    return "modified"


def parse_status_v2(out: str) -> GitStatus:
    """Parse ``git status --porcelain=v2 --branch -z``."""
    branch = head = upstream = None
    ahead = behind = 0
    files: list[StatusFile] = []
    records = out.split("\x00")
    index = 0
    while index < len(records):
        record = records[index]
        index += 1
        if not record:
            continue
        if record.startswith("# branch.oid "):
            oid = record.split(" ", 2)[2]
            head = None if oid == "(initial)" else oid
        elif record.startswith("# branch.head "):
            name = record.split(" ", 2)[2]
            branch = None if name == "(detached)" else name
        elif record.startswith("# branch.upstream "):
            upstream = record.split(" ", 2)[2]
        elif record.startswith("# branch.ab "):
            _, _, plus, minus = record.split(" ")
            ahead, behind = int(plus), -int(minus)
        elif record.startswith("1 "):
            parts = record.split(" ", 8)
            xy = parts[1]
            files.append(StatusFile(parts[8], _kind(xy), xy[0] != "."))
        elif record.startswith("2 "):
            parts = record.split(" ", 9)
            xy = parts[1]
            orig = records[index] if index < len(records) else None
            index += 1
            files.append(StatusFile(parts[9], _kind(xy), xy[0] != ".", orig))
        elif record.startswith("u "):
            files.append(StatusFile(record.split(" ", 10)[10], "conflicted", True))
        elif record.startswith("? "):
            files.append(StatusFile(record[2:], "untracked", False))
    return GitStatus(branch, head, upstream, ahead, behind, tuple(files))


async def status(root: Path) -> GitStatus:
    out = await run_git(
        root, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all",
        "--ignore-submodules=dirty",
    )  # fmt: skip
    return parse_status_v2(out)


# More paths than this are checked against the whole status instead of one pathspec each.
MAX_PATHSPECS = 500


async def changed_among(root: Path, paths: list[str]) -> set[str]:
    """Which of ``paths`` git sees as changed now (modified, staged, added, deleted,
    untracked; either side of a rename): not a file git itself rewrote to what it was
    (a checkout, a merge, a stash, a reset), not a temporary file that is gone, not a
    directory."""
    args = ["status", "--porcelain=v2", "-z", "--untracked-files=all", "--ignore-submodules=dirty"]
    # ``paths`` are as recorded (printable_name); one with an escape in it is not the name
    # on disk, so such a batch asks about the whole tree instead of naming the paths.
    if len(paths) <= MAX_PATHSPECS and not any("\\" in path for path in paths):
        args += ["--", *paths]  # literal (--literal-pathspecs): a name is never a glob
    out = await run_git(root, "--literal-pathspecs", *args, errors="surrogateescape")
    changed: set[str] = set()
    for f in parse_status_v2(out).files:
        changed.add(printable_name(f.path))
        if f.orig_path:
            changed.add(printable_name(f.orig_path))
    return changed & set(paths)


async def last_committed(root: Path, paths: list[str], since: str) -> dict[str, str]:
    """For each of ``paths`` a commit touched after ``since`` (ISO 8601): the newest such
    commit's time (``%cI``). One ``git log`` for all of them."""
    args = ["log", f"--since={since}", "--no-renames", "--name-only", "-z", "--format=%x1e%cI"]
    out = await run_git(root, "--literal-pathspecs", *args, "--", *paths[:MAX_PATHSPECS])
    newest: dict[str, str] = {}
    for record in out.split("\x1e"):
        when, _, names = record.strip("\0\n").partition("\n")
        when = when.strip("\0")
        for name in names.split("\0"):
            name = name.strip("\n")
            if name and when and name not in newest:  # newest first: the first seen wins
                newest[name] = when
    return newest


def diff_base(head: str | None) -> str:
    """What the work tree is compared with: HEAD, or the empty tree before the first commit."""
    return "HEAD" if head else EMPTY_TREE


async def numstat(root: Path, base: str = "HEAD") -> list[tuple[str, int | None, int | None]]:
    """(path, added, deleted) for every tracked change against ``base``; None for binary files."""
    out = await run_git(root, "diff", base, "--numstat", "-z", "--no-renames", *gitsafe.DIFF_OPTIONS)
    result = []
    for record in out.split("\x00"):
        if not record:
            continue
        added, deleted, path = record.split("\t", 2)
        result.append((path, None if added == "-" else int(added), None if deleted == "-" else int(deleted)))
    return result


@dataclass(frozen=True, slots=True)
class Hunk:
    path: str
    text: str  # "@@ ... @@" and its lines
    changed: int  # added + deleted lines


@dataclass(frozen=True, slots=True)
class Diff:
    files: list[tuple[str, int | None, int | None]]  # (path, added, deleted); None: binary
    hunks: list[Hunk]
    cut: bool  # the diff was longer than max_bytes; hunks past the cut are missing


async def work_tree_diff(root: Path, base: str = "HEAD", *, max_bytes: int = 4_000_000) -> Diff:
    """The work tree (staged and not) against ``base``: per-file counts and every hunk, from
    one ``git diff`` (the counts are the numstat, without a second git process)."""
    out = await run_git(
        root, "diff", base, "--no-color", "-U3", "--no-renames", "--src-prefix=a/", "--dst-prefix=b/",
        *gitsafe.DIFF_OPTIONS, max_bytes=max_bytes,
    )  # fmt: skip
    cut = len(out) > max_bytes
    if cut:
        out = out[:max_bytes]
    files, hunks = parse_diff(out)
    if cut:
        # Files past the cut still belong in the header: ask git for the counts alone.
        files = await numstat(root, base)
    return Diff(files, hunks, cut)


def parse_diff(out: str) -> tuple[list[tuple[str, int | None, int | None]], list[Hunk]]:
    """Split ``git diff`` output into (path, added, deleted) per file and its hunks.

    Works on whole strings (split, count) rather than line by line: this runs on the
    context packet's critical path. Inside a hunk every line starts with " ", "+", "-" or
    "\\", so "\ndiff --git " and "\n@@" only ever begin a file or a hunk."""
    files: list[tuple[str, int | None, int | None]] = []
    hunks: list[Hunk] = []
    for chunk in ("\n" + out).split("\ndiff --git ")[1:]:
        header, *bodies = chunk.rstrip("\n").split("\n@@")
        path = header.partition("\n")[0].split(" b/", 1)[-1]
        if not bodies:
            binary = "\nBinary files " in header or "\nGIT binary patch" in header
            files.append((path, None, None) if binary else (path, 0, 0))  # binary, or mode only
            continue
        added = deleted = 0
        for body in bodies:
            plus, minus = body.count("\n+"), body.count("\n-")
            added += plus
            deleted += minus
            hunks.append(Hunk(path, "@@" + body, plus + minus))
        files.append((path, added, deleted))
    return files, hunks


@dataclass(frozen=True, slots=True)
class BranchBase:
    """Where the checked-out branch left its base, and how far each side went since."""

    name: str  # the base as git names it: main, origin/main
    merge_base: str  # the commit the branch left it at
    ahead: int  # commits on the branch since
    behind: int  # commits on the base since (it moved on)


async def branch_base(root: Path, branch: str | None, configured: str | None = None) -> BranchBase | None:
    """The base of ``branch``: ``configured`` (``base_branch``), else its upstream when that
    is another branch, else the remote's default branch (``origin/HEAD``), else ``main`` or
    ``master`` (local, then ``origin/``). None on the base itself, or with none found."""
    heads = ["refs/heads/main", "refs/heads/master", "refs/remotes/origin/main", "refs/remotes/origin/master"]
    refs = [f"refs/heads/{branch}"] if branch else []
    refs += ["refs/remotes/origin/HEAD", *heads]
    if configured:
        refs += [f"refs/heads/{configured}", f"refs/remotes/{configured}"]
    out = await run_git(root, "for-each-ref", "--format=%(refname)%00%(upstream)%00%(symref)", *refs)
    found: dict[str, tuple[str, str]] = {}
    for line in out.splitlines():
        name, _, rest = line.partition("\0")
        upstream, _, symref = rest.partition("\0")
        found[name] = (upstream, symref)
    own = f"refs/heads/{branch}" if branch else None
    candidates: list[str] = []
    if configured:
        candidates += [
            ref for ref in (f"refs/heads/{configured}", f"refs/remotes/{configured}") if ref in found
        ]
    upstream = found.get(own, ("", ""))[0] if own else ""
    if upstream and upstream.rsplit("/", 1)[-1] != branch:
        candidates.append(upstream)  # tracking another branch (origin/main): that is its base
    default = found.get("refs/remotes/origin/HEAD", ("", ""))[1]
    if default:
        candidates.append(default)
    candidates += [ref for ref in heads if ref in found]
    for ref in dict.fromkeys(candidates):
        short = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
        if ref == own or (branch and short.rsplit("/", 1)[-1] == branch):
            continue  # on the base itself (main, or origin/main from main)
        try:
            merge_base, counts = await asyncio.gather(
                run_git(root, "merge-base", "HEAD", ref),
                run_git(root, "rev-list", "--count", "--left-right", f"{ref}...HEAD"),
            )
        except GitError:
            continue  # unrelated histories, a ref gone meanwhile
        merge_base = merge_base.strip()
        behind, ahead = (int(n) for n in counts.split())
        return BranchBase(short, merge_base, ahead, behind)
    return None


async def commits_between(root: Path, base: str, count: int) -> list[Commit]:
    """The newest ``count`` commits on HEAD since ``base`` (``base..HEAD``)."""
    return await _log(root, f"-n{count}", f"{base}..HEAD")


async def changed_since(root: Path, base: str) -> set[str]:
    """The files the commits since ``base`` changed (``git diff --name-only base HEAD``)."""
    out = await run_git(
        root, "diff", "--name-only", "-z", "--no-renames", base, "HEAD", *gitsafe.DIFF_OPTIONS
    )
    return {path for path in out.split("\0") if path}


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    subject: str
    author: str
    at: str


async def recent_commits(root: Path, count: int) -> list[Commit]:
    """The last ``count`` commits; the caller checks there is a HEAD (git fails otherwise)."""
    return await _log(root, f"-n{count}")


async def _log(root: Path, *args: str) -> list[Commit]:
    out = await run_git(root, "log", *args, "--no-show-signature", "--format=%H%x1f%an%x1f%aI%x1f%s%x1e")
    commits = []
    for record in out.split("\x1e"):
        record = record.strip("\n")
        if record:
            sha, author, at, subject = record.split("\x1f", 3)
            commits.append(Commit(sha, subject, author, at))
    return commits


async def commit_summary(root: Path, sha: str) -> tuple[str, list[str]]:
    """Subject and changed files of one commit."""
    out = await run_git(
        root, "show", "--no-renames", "--name-only", "--no-show-signature", "--format=%s%x00",
        *gitsafe.DIFF_OPTIONS, sha,
    )  # fmt: skip
    subject, _, rest = out.partition("\x00")
    return subject.strip(), [line for line in rest.splitlines() if line.strip()]


async def current_branch(root: Path) -> str | None:
    return await asyncio.to_thread(read_branch, root)
