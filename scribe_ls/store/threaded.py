"""The store for the event loop: the same synchronous :class:`~scribe_ls.store.database.Store` (and
any :class:`~scribe_ls.core.operations.Ledger` call on it), run in one thread that owns the
connection, so nothing blocks the loop and no two statements of this process race."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from .database import Store
from .layout import Layout
from .opening import store_errors

P = ParamSpec("P")
R = TypeVar("R")


def _in_thread(method: Callable[Concatenate[Store, P], R]) -> Callable[..., Coroutine[Any, Any, R]]:
    @functools.wraps(method)
    async def call(self: AsyncStore, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.run(method, self.sync, *args, **kwargs)

    return call


class AsyncStore:
    def __init__(self, store: Store) -> None:
        self.sync = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-store")
        # Store operations queued or running in the store thread (reported by scribe/status).
        self.pending = 0

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` in the store thread; SQLite's errors come back as StoreUnavailable."""
        loop = asyncio.get_running_loop()
        self.pending += 1
        try:
            with store_errors(self.dir):
                return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        finally:
            self.pending -= 1

    async def shutdown(self) -> None:
        """Close the connection and end the thread."""
        await self.close()
        await asyncio.to_thread(self._executor.shutdown, wait=True)

    @property
    def root(self) -> Path:
        return self.sync.root

    @property
    def layout(self) -> Layout:
        return self.sync.layout

    @property
    def dir(self) -> Path:
        return self.sync.dir

    @property
    def path(self) -> Path:
        return self.sync.path

    @property
    def read_only(self) -> str | None:
        return self.sync.read_only

    @property
    def notices(self) -> list[str]:
        return self.sync.notices

    open = _in_thread(Store.open)
    close = _in_thread(Store.close)
    get_session = _in_thread(Store.get_session)
    publish = _in_thread(Store.publish)
    sessions_and_entries = _in_thread(Store.sessions_and_entries)
    last_change_id = _in_thread(Store.last_change_id)
    prune_changes = _in_thread(Store.prune_changes)
    data_version = _in_thread(Store.data_version)
    foreign_changes = _in_thread(Store.foreign_changes)
