"""What a context packet reads: the service's port (:class:`ContextSource`), the facts of
the repository found once per packet, a section's own keys and errors, and the reads
sections share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from ..config import Config
from ..git import files as gitfiles
from ..git import safety as gitsafe
from ..model import Entry, Overlap, Session, SessionSummary
from ..store.layout import foreign_repository


@dataclass(frozen=True, slots=True)
class RepoFacts:
    dirs: gitfiles.GitDirs | None  # None: not a git repository
    head: str | None  # None: no commits yet
    refused: str | None = None  # why a repository around the root is not used (another user's)
    branch: str | None = None  # the checked-out branch (None: detached)


class Extra(NamedTuple):
    """A section's data and keys of its own beside it (the commits' ``since`` and ``total``)."""

    data: Any
    keys: dict[str, Any]


def repo_facts(root: Path) -> RepoFacts:
    dirs = gitfiles.find_git_dirs(root)
    refused = foreign_repository(root) if dirs is None else None
    if dirs is not None:
        # While in this thread: whether git's configuration moved, so the sections' git
        # calls need no look of their own (gitsafe.fresh_overrides).
        try:
            gitsafe.cached_overrides(root)
        except gitsafe.NotARepository as exc:
            refused = str(exc)  # a FIFO where git reads: the git sections say so, run nothing
    return RepoFacts(dirs, gitfiles.read_head_sha(root), refused, gitfiles.read_branch(root))


T = TypeVar("T")
# A read a packet makes at most once, for the sections that share it (``once``).
Once = Callable[[], "asyncio.Future[T]"]


def once(start: Callable[[], Awaitable[T]]) -> Once[T]:
    """``start()`` begun on the first call only; every call gets its future."""
    begun: list[asyncio.Future[T]] = []

    def get() -> asyncio.Future[T]:
        if not begun:
            begun.append(asyncio.ensure_future(start()))
        return begun[0]

    return get


class SectionError(Exception):
    """A section that cannot be produced; the message goes to the client."""


class ContextSource(Protocol):
    """What a context packet reads (the service provides it). ``generation`` moves on
    every notification; ``watching`` says whether this source hears about every change, so
    that a cached packet can be trusted until the generation moves."""

    root: Path
    config: Config

    @property
    def generation(self) -> int: ...

    @property
    def tree_generation(self) -> int: ...  # moves with what git sees (saves, commits, branch switches)

    @property
    def store_generation(self) -> int: ...  # moves with everything else told (entries, sessions, summaries)

    @property
    def watching(self) -> bool: ...

    async def get_session(self, session_id: str) -> Session: ...

    async def current_session(self) -> Session | None: ...

    async def recent_entries(self, session_id: str, limit: int) -> list[Entry]: ...

    async def summary_counts(self, session_id: str) -> SessionSummary: ...

    async def file_authors(self, session_id: str, paths: Sequence[str]) -> dict[str, list[str]]: ...

    async def overlapping_sessions(self, session_id: str | None) -> list[Overlap]: ...
