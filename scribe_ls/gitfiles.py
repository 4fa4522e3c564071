"""Facts read straight from the files git keeps: no git process, no event loop.

Where the git dir is, the checked-out branch, the HEAD commit, and the ``info/exclude``
line that keeps ``.scribe/`` out of ``git status``. Microseconds each, so the CLI and the
session rules can read HEAD on every call instead of trusting a cached answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .lazylog import get_logger

log = get_logger(__name__)


class GitDirs(NamedTuple):
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


def exclude_scribe_dir(root: Path) -> bool:
    """Add ``.scribe/`` to the repository's ``info/exclude`` (not ``.gitignore``, which is
    the user's file). True if the line was added."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return False
    exclude = dirs.common_dir / "info" / "exclude"
    try:
        exclude.parent.mkdir(parents=True, exist_ok=True)
        # O_NOFOLLOW: a repository that is not a fresh clone can hold any .git/ contents.
        fd = os.open(exclude, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        with os.fdopen(fd, "r+", encoding="utf-8", errors="replace") as handle:
            existing = handle.read()
            if any(line.strip() in (".scribe", ".scribe/", "/.scribe/") for line in existing.splitlines()):
                return False
            handle.seek(0, os.SEEK_END)
            if existing and not existing.endswith("\n"):
                handle.write("\n")
            handle.write("# scribe-ls session store\n.scribe/\n")
        return True
    except OSError as exc:
        log.warning("could not add .scribe/ to %s: %s", exclude, exc)
        return False


MAX_WORKTREES = 32  # siblings looked at, whatever a repository holds


def sibling_worktrees(root: Path) -> list[Path]:
    """The other work trees of ``root``'s repository (``git worktree add``): the main one
    and every linked one but ``root``, read from git's files (no git process), at most
    :data:`MAX_WORKTREES`, only those that still exist."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return []
    found: list[Path] = []
    if dirs.common_dir.name == ".git":
        found.append(dirs.common_dir.parent)  # the main work tree (not a bare repository)
    worktrees = dirs.common_dir / "worktrees"
    try:
        entries = sorted(worktrees.iterdir())[:MAX_WORKTREES] if worktrees.is_dir() else []
    except OSError:
        entries = []
    for entry in entries:
        try:
            pointer = (entry / "gitdir").read_text(encoding="utf-8").strip()  # <tree>/.git
        except (OSError, UnicodeDecodeError):
            continue
        found.append(Path(pointer).parent)
    here = root.resolve()
    return [tree for tree in dict.fromkeys(p.resolve() for p in found) if tree != here and tree.is_dir()]
