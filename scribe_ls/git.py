"""Git access without blocking the event loop.

Cheap facts (the current branch, the HEAD commit, where the git dir is) are read straight
from the files git keeps, in a worker thread: no process start on the hot path. Anything
else runs git as an asyncio subprocess, bounded by a semaphore and a timeout, with
optional locks off so we never fight the user's own git.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

GIT_TIMEOUT = 10.0
MAX_CONCURRENT_GIT = 4
# One bound per event loop (a semaphore belongs to the loop that first waits on it).
_git_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


class GitError(Exception):
    """git failed, timed out, or is not installed; the message says which."""


@dataclass(frozen=True, slots=True)
class GitDirs:
    git_dir: Path  # this work tree's git dir (differs from common_dir in a linked worktree)
    common_dir: Path  # where refs, objects and info/exclude live


def find_git_dirs(root: Path) -> GitDirs | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return GitDirs(dot_git, dot_git)
    if dot_git.is_file():
        # A linked worktree or submodule: ".git" holds "gitdir: <path>".
        try:
            text = dot_git.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not text.startswith("gitdir:"):
            return None
        git_dir = (root / text.removeprefix("gitdir:").strip()).resolve()
        common = git_dir
        commondir_file = git_dir / "commondir"
        if commondir_file.is_file():
            common = (git_dir / commondir_file.read_text(encoding="utf-8").strip()).resolve()
        return GitDirs(git_dir, common)
    return None


def read_branch(root: Path) -> str | None:
    """The checked-out branch (``feature/B-1-x``), or None if detached or not a repo."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return None
    try:
        head = (dirs.git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if head.startswith("ref: refs/heads/"):
        return head.removeprefix("ref: refs/heads/")
    return None


def read_head_sha(root: Path) -> str | None:
    """The commit HEAD points at, from HEAD, the loose ref or packed-refs; None if unborn."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return None
    try:
        head = (dirs.git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head or None
        ref = head.removeprefix("ref: ")
        loose = dirs.common_dir / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip() or None
        packed = dirs.common_dir / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None
    return None


async def run_git(root: Path, *args: str, timeout: float = GIT_TIMEOUT) -> str:
    """``git <args>`` in ``root``; at most MAX_CONCURRENT_GIT run at once per process."""
    slots = _git_slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(MAX_CONCURRENT_GIT))
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    async with slots:
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                "--no-optional-locks",
                *args,
                cwd=root,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed (not found on PATH)") from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise GitError(f"git {args[0]} timed out after {timeout:.0f}s") from exc
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0]}: {lines[-1] if lines else f'exit code {proc.returncode}'}")
    return out.decode("utf-8", "replace")


async def commit_summary(root: Path, sha: str) -> tuple[str, list[str]]:
    """Subject and changed files of one commit."""
    out = await run_git(root, "show", "--no-renames", "--name-only", "--format=%s%x00", sha)
    subject, _, rest = out.partition("\x00")
    return subject.strip(), [line for line in rest.splitlines() if line.strip()]


async def current_branch(root: Path) -> str | None:
    return await asyncio.to_thread(read_branch, root)


def exclude_scribe_dir(root: Path) -> bool:
    """Add ``.scribe/`` to the repository's ``info/exclude`` (not ``.gitignore``, which is
    the user's file). True if the line was added."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return False
    exclude = dirs.common_dir / "info" / "exclude"
    try:
        existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
        if any(line.strip() in (".scribe", ".scribe/", "/.scribe/") for line in existing.splitlines()):
            return False
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            if existing and not existing.endswith("\n"):
                handle.write("\n")
            handle.write("# scribe-ls session store\n.scribe/\n")
        return True
    except OSError as exc:
        log.warning("could not add .scribe/ to %s: %s", exclude, exc)
        return False
