"""One shared, open :class:`~scribe_ls.core.service.Scribe` per repository root, for every
connection of a server process (stdio's one, or a listener's many), and closing them all."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.events import Notification
from ..core.service import Scribe
from ..store.layout import find_repo_root

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Attached:
    """A connection's service, opened before its ``initialize`` reached pygls (the stdio
    transport answers it early): the answer already sent, and the service's pushes kept
    since, to be delivered once the connection listens."""

    service: Scribe
    answer: bytes
    pushes: list[Notification]
    stop_keeping: Callable[[], None]


class ServiceHub:
    """One shared, open :class:`Scribe` per repository root, counted by connection."""

    def __init__(self) -> None:
        self._services: dict[Path, tuple[Scribe, int]] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, root: Path) -> Scribe:
        repo = find_repo_root(root)
        async with self._lock:
            service, users = self._services.get(repo, (None, 0))
            if service is None:
                # Each repository's own config (not the server's working directory's).
                service = await Scribe(repo, relay=True, record=True).open()
            self._services[repo] = (service, users + 1)
            return service

    async def release(self, service: Scribe) -> None:
        async with self._lock:
            current, users = self._services.get(service.root, (None, 0))
            if current is not service:
                return
            if users <= 1:
                del self._services[service.root]
                await service.close()
            else:
                self._services[service.root] = (service, users - 1)

    async def close_all(self) -> None:
        async with self._lock:
            services = [service for service, _ in self._services.values()]
            self._services.clear()
        for service in services:
            await service.close()


async def close_within(
    hub: ServiceHub, *, detach: Coroutine[Any, Any, None] | None = None, seconds: float = 10
) -> None:
    """Detach a client (if given) and close the services (flushing pending activity,
    releasing the recorder lease), bounded in time."""
    try:
        if detach is not None:
            await asyncio.wait_for(detach, seconds)
        await asyncio.wait_for(hub.close_all(), seconds)
    except TimeoutError:
        log.warning("services did not close within %.0f s", seconds)
