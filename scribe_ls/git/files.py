"""Facts read straight from the files git keeps: no git process, no event loop.

Where the git dir is, the checked-out branch, the HEAD commit, and the repository's other
work trees. Microseconds each, so the CLI and the session rules can read HEAD on every call
instead of trusting a cached answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..repofiles import read_regular

# packed-refs of a big repository runs to megabytes; read that much, never more.
PACKED_REFS_LIMIT = 64 << 20


class GitDirs(NamedTuple):
    git_dir: Path  # this work tree's git dir (differs from common_dir in a linked worktree)
    common_dir: Path  # where refs, objects and info/exclude live


def find_git_dirs(root: Path) -> GitDirs | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return GitDirs(dot_git, dot_git)
    # A linked worktree or submodule: ".git" is a file holding "gitdir: <path>".
    text = (read_regular(dot_git, errors="surrogateescape") or "").strip()
    if not text.startswith("gitdir:"):
        return None
    git_dir = (root / text.removeprefix("gitdir:").strip()).resolve()
    common = git_dir
    if commondir := (read_regular(git_dir / "commondir", errors="surrogateescape") or "").strip():
        common = (git_dir / commondir).resolve()
    return GitDirs(git_dir, common)


def read_branch(root: Path) -> str | None:
    """The checked-out branch (``feature/B-1-x``), or None if detached or not a repo."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return None
    # A branch name that is not UTF-8 is shown escaped (feat/caf\xe9), never an error.
    head = (read_regular(dirs.git_dir / "HEAD") or "").strip()
    if head.startswith("ref: refs/heads/"):
        return head.removeprefix("ref: refs/heads/")
    return None


def read_head_sha(root: Path) -> str | None:
    """The commit HEAD points at, from HEAD, the loose ref or packed-refs; None if unborn."""
    dirs = find_git_dirs(root)
    if dirs is None:
        return None
    head = (read_regular(dirs.git_dir / "HEAD", errors="surrogateescape") or "").strip()
    if not head.startswith("ref: "):
        return head or None
    ref = head.removeprefix("ref: ")
    if ".." in ref.split("/"):
        return None  # a ref never climbs out of the git dir
    if loose := (read_regular(dirs.common_dir / ref, errors="surrogateescape") or "").strip():
        return loose
    packed = read_regular(dirs.common_dir / "packed-refs", limit=PACKED_REFS_LIMIT, errors="surrogateescape")
    for line in (packed or "").splitlines():
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return None


MAX_WORKTREES = 32  # siblings looked at, whatever a repository holds


def sibling_worktrees(root: Path) -> list[Path]:
    """The other work trees of ``root``'s repository (``git worktree add``): the main one
    and every linked one but ``root``, read from git's files (no git process), at most
    :data:`MAX_WORKTREES`, only those that still exist.

    A record is followed only when the two sides agree, as ``git worktree`` checks them:
    the tree's ``.git`` names this repository's git directory for it, and (when ``root`` is
    itself a linked worktree) ``root``'s record names ``root``. A repository can ship a
    ``worktrees/x/gitdir`` naming any project on the disk; that project never names us."""
    dirs = find_git_dirs(root)
    if dirs is None or not _points_back(root, dirs.git_dir):
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
        pointer = _read_pointer(entry / "gitdir")  # <tree>/.git
        if pointer is not None:
            found.append(Path(pointer).parent)
    here = root.resolve()
    trees = dict.fromkeys(p.resolve() for p in found)
    return [
        tree
        for tree in trees
        if tree != here
        and tree.is_dir()
        and (sibling := find_git_dirs(tree)) is not None
        # The tree's own .git names a git dir of this repository: the main one, or its record.
        and sibling.common_dir.resolve() == dirs.common_dir.resolve()
        and _points_back(tree, sibling.git_dir)
    ]


def _read_pointer(path: Path) -> str | None:
    return (read_regular(path, errors="surrogateescape") or "").strip() or None


def _points_back(tree: Path, git_dir: Path) -> bool:
    """A linked worktree's record (``<common>/worktrees/x``) names ``tree``'s ``.git`` in its
    ``gitdir`` file; a main work tree's git dir is its own ``.git``."""
    if git_dir.resolve() == (tree / ".git").resolve():
        return True
    pointer = _read_pointer(git_dir / "gitdir")
    return pointer is not None and Path(pointer).resolve() == (tree / ".git").resolve()
