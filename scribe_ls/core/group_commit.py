"""Group commit for the event loop: writes that arrive while one is being committed wait,
then go to the store together, in one transaction with one fsync.

The first write of a quiet moment goes at once (no added latency); under load, each
commit carries everything that queued up during the previous one, so the cost of the
commit is shared instead of paid per write. Every write is answered with its own result
only after the call that committed it returned: nothing is acknowledged before it is
durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from ..metrics import METRICS

T = TypeVar("T")
R = TypeVar("R")

# Stores a group; one result (or the error of that item alone) per item, in order.
CommitGroup = Callable[[Sequence[T]], Awaitable[Sequence[R | BaseException]]]

MAX_GROUP = 64  # writes per transaction: bounds one commit's time and memory


class GroupCommit(Generic[T, R]):
    """``commit(items)`` stores a group and returns one result per item, in order: a value,
    or the exception that item alone failed with. An exception it raises fails the whole
    group (nothing of it was committed)."""

    def __init__(self, commit: CommitGroup[T, R], max_group: int = MAX_GROUP) -> None:
        self._commit = commit
        self._max_group = max_group
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._committing = False
        self._drainer: asyncio.Future[None] | None = None  # held: the loop keeps only weak refs

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if not self._committing:
            self._committing = True
            # Its own task, so that a caller cancelled while waiting cannot stop the
            # commit of the others' writes.
            self._drainer = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                METRICS.add("group_commits")
                METRICS.add("group_commit_writes", len(group))
                try:
                    results = await self._commit([item for item, _ in group])
                except BaseException as exc:  # nothing of the group is durable: all fail
                    for _, future in group:
                        if not future.done():
                            future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():
                        continue  # its caller went away; the write is stored all the same
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._committing = False
