"""The service's reads: sessions, entries, overlaps and search, each one
:class:`~scribe_ls.core.operations.Ledger` call in the store's thread (which checks its
arguments by the operation's declaration). A part of :class:`~scribe_ls.core.service.Scribe`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..model import Entry, Overlap, SearchHit, Session, SessionSummary
from ..store.threaded import AsyncStore
from .operations import Ledger


class Reads:
    store: AsyncStore
    ledger: Ledger

    async def session_or_current(self, session_id: str | None) -> Session:
        """The named session, or the current one (error -32011 if there is none)."""
        return await self.store.run(self.ledger.session_or_current, session_id)

    async def current_session(self) -> Session | None:
        return await self.store.run(self.ledger.current_session)

    async def get_session(self, session_id: str) -> Session:
        return await self.store.run(self.ledger.get_session, session_id)

    async def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int | None = 50,
    ) -> list[Session]:
        return await self.store.run(
            self.ledger.list_sessions, status=status, backlog_id=backlog_id, tag=tag, limit=limit
        )

    async def get_entries(
        self,
        session_id: str,
        *,
        after_id: int | None = 0,
        limit: int | None = 100,
        kinds: Sequence[str] | None = (),
    ) -> tuple[list[Entry], int | None]:
        return await self.store.run(
            self.ledger.get_entries, session_id, after_id=after_id, limit=limit, kinds=kinds
        )

    async def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        """The newest ``limit`` entries of a session, oldest first."""
        return await self.store.run(self.ledger.recent_entries, session_id, limit)

    async def summary_counts(self, session_id: str) -> SessionSummary:
        """Counts and the latest decisions, ideas and todos of a session."""
        return await self.store.run(self.ledger.summary_counts, session_id)

    async def file_authors(self, session_id: str, paths: Sequence[str]) -> dict[str, list[str]]:
        """Who changed each of ``paths`` on a session's item: ``person`` or an agent's name."""
        return await self.store.run(self.ledger.file_authors, session_id, paths)

    async def overlapping_sessions(self, session_id: str | None) -> list[Overlap]:
        """Other open sessions (this root's, then the linked worktrees'), each with the
        files both it and this one touched."""
        return await self.store.run(self.ledger.overlapping_sessions, session_id)

    async def search(self, query: str, limit: int | None = 20) -> list[SearchHit]:
        """Entries matching every word of ``query``: whole-word matches first, then word
        starts, each newest first (see :meth:`Store.search <scribe_ls.store.database.Store.search>`)."""
        return await self.store.run(self.ledger.search, query, limit)

    async def team(self) -> dict[str, Any]:
        """What ``scribe/team`` answers: who is on which item, from the shared logs."""
        return await self.store.run(self.ledger.team)
