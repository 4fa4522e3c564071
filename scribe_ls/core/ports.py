"""What the service's parts use of the service: resume, summaries, status and the worklog
catch-up are written against :class:`ServicePort`, not against
:class:`~scribe_ls.core.service.Scribe`, so that the service imports them and none of them
imports it (no import circle, lazy imports included)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import Config
from ..model import Session
from ..store.threaded import AsyncStore
from .operations import Ledger

if TYPE_CHECKING:
    from ..recording.recorder import Recorder
    from .background_summaries import BackgroundSummaries

# Reports how far a long request got: (message, percentage 0..100). The server turns it
# into ``$/progress`` for a client that offered a workDoneToken.
Progress = Callable[[str, int], None]


class ServicePort(Protocol):
    root: Path
    config: Config
    store: AsyncStore
    ledger: Ledger
    recorder: Recorder | None
    summaries: BackgroundSummaries | None

    @property
    def stopping(self) -> bool: ...

    @property
    def uptime(self) -> float: ...

    def emit(self, method: str, params: dict[str, Any], origin: str | None = None) -> None: ...

    def tell(self, message: str) -> None: ...

    async def session_or_current(self, session_id: str | None) -> Session: ...

    async def current_session(self) -> Session | None: ...

    async def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int | None = 50,
    ) -> list[Session]: ...

    async def context(
        self,
        session_id: str | None = None,
        *,
        sections: Sequence[str] | None = None,
        max_chars: int | None = 12000,
        format: str | None = "json",
        max_tokens: int | None = None,
        since: str | None = None,
    ) -> dict[str, Any]: ...
