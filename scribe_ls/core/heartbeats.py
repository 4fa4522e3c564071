"""Editor heartbeats (``scribe/heartbeat``) merged: a chatty client costs one write a window.

A beat closer to the last written one than :data:`HEARTBEAT_EVERY` is not written at once:
the latest of them is written when the window ends (or when the service closes), with the
wall time it arrived at.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from ..errors import ScribeError
from ..model import Session, utc_now

log = logging.getLogger(__name__)

# Heartbeats closer together than this (seconds) are merged into one write.
HEARTBEAT_EVERY = 30.0
MAX_BEAT_KEYS = 256

# Writes one beat: (session id or None for the one activity belongs to, when) -> credited.
WriteBeat = Callable[[str | None, datetime | None], Awaitable[Session | None]]


class Heartbeats:
    """Per session ("" = the current one): when a beat was last written, the wall time of
    one merged since, and the write due at the end of its window."""

    def __init__(self, write: WriteBeat) -> None:
        self._write = write
        self._written: dict[str, float] = {}
        self._merged_at: dict[str, datetime] = {}
        self._due: dict[str, asyncio.Task[None]] = {}

    async def beat(self, session_id: str | None) -> Session | None:
        """A beat (its argument checked); the session credited, None when none was or when
        it was merged into the window's write."""
        key = session_id or ""
        now = time.monotonic()
        last = self._written.get(key)
        if last is not None and now - last < HEARTBEAT_EVERY:
            if key not in self._due:
                self._due[key] = asyncio.create_task(self._at_window_end(key, last))
            self._merged_at[key] = utc_now()
            return None
        if len(self._written) >= MAX_BEAT_KEYS:  # bounded: forget windows long over
            self._written = {k: t for k, t in self._written.items() if now - t < HEARTBEAT_EVERY}
        self._written[key] = now
        return await self._write(session_id, None)

    async def _at_window_end(self, key: str, window_start: float) -> None:
        try:
            await asyncio.sleep(max(0.0, window_start + HEARTBEAT_EVERY - time.monotonic()))
            self._written[key] = time.monotonic()
            await self._write(key or None, self._merged_at.pop(key, None))
        except ScribeError as exc:  # the session went away meanwhile: nothing to credit
            log.info("late heartbeat not recorded: %s", exc.message)
        finally:
            self._due.pop(key, None)

    async def flush(self) -> None:
        """Closing: a beat merged into a window not over yet is written now."""
        for key, task in list(self._due.items()):
            task.cancel()
            at = self._merged_at.pop(key, None)
            if at is None:
                continue
            try:
                await self._write(key or None, at)
            except ScribeError as exc:
                log.info("late heartbeat not recorded: %s", exc.message)
