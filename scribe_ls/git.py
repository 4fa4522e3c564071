"""Git access without blocking the event loop.

Cheap facts (the current branch, where the git dir is) are read straight from the files
git keeps, in a worker thread: no process start on the hot path.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


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
