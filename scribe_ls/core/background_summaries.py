"""Background summaries: a backlog item's summary is refreshed after its session stops and
after every ``summary_every`` new entries, by one worker behind a bounded queue, so no
request waits for it. A refresh reads all of the item's entries, so on a big item the next
one waits long enough that refreshing takes at most REFRESH_SHARE of the time, however fast
entries come (10,000 notes in a row paid for 200 refreshes of a growing item before). Only
the process that records the root (holds its lease) does it: one summary per change,
however many servers are open on the root."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from ..config import Config
from .events import ENTRY_ADDED, SESSION_CHANGED, Notification


class _Recorder(Protocol):
    holds_lease: bool


class SummaryTarget(Protocol):
    """What the worker needs of the service (a port: no import of it)."""

    config: Config

    @property
    def recorder(self) -> _Recorder | None: ...

    async def summarize(self, session_id: str | None = ...) -> dict[str, Any]: ...


log = logging.getLogger(__name__)

QUEUE_SIZE = 64
REFRESH_SHARE = 0.1  # at most this share of the time goes to refreshing one item's summary


class BackgroundSummaries:
    def __init__(self, scribe: SummaryTarget) -> None:
        self.scribe = scribe
        self.queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self.pending: set[str] = set()  # session ids queued (one refresh each, however asked)
        self.counts: dict[str, int] = {}  # new entries per session since its last refresh
        # Not before then (monotonic) after entries: the last refresh's cost, amortized.
        self.not_before: dict[str, float] = {}
        self.done = 0
        self.dropped = 0
        self.last_error: str | None = None

    def heard(self, event: Notification) -> None:
        """A listener on every notification, this process's and relayed ones."""
        config = self.scribe.config
        if not config.background_summaries:
            return
        if event.method == SESSION_CHANGED and event.params.get("change") == "stopped":
            self._ask(event.params["session"]["id"])
        elif event.method == ENTRY_ADDED:
            session_id = event.params["entry"]["sessionId"]
            self.counts[session_id] = self.counts.get(session_id, 0) + 1
            due = self.not_before.get(session_id, 0.0) <= time.monotonic()
            if self.counts[session_id] >= config.summary_every and due:
                self._ask(session_id)

    def _ask(self, session_id: str) -> None:
        self.counts[session_id] = 0
        if session_id in self.pending:
            return
        try:
            self.queue.put_nowait(session_id)
        except asyncio.QueueFull:
            self.dropped += 1  # bounded: a later stop or batch of entries asks again
            return
        self.pending.add(session_id)

    async def run(self, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                taking = asyncio.ensure_future(self.queue.get())
                await asyncio.wait({taking, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not taking.done():
                    taking.cancel()
                    break
                session_id = taking.result()
                self.pending.discard(session_id)
                await self._refresh(session_id)
        finally:
            stopping.cancel()

    async def _refresh(self, session_id: str) -> None:
        recorder = self.scribe.recorder
        if recorder is None or not recorder.holds_lease:
            return  # the process that records the root refreshes its summaries
        started = time.monotonic()
        try:
            await self.scribe.summarize(session_id)
            self.done += 1
            took = time.monotonic() - started
            self.not_before[session_id] = time.monotonic() + took * (1 / REFRESH_SHARE - 1)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("background summary of %s failed: %s", session_id, exc)

    def status(self) -> dict[str, Any]:
        return {
            "enabled": self.scribe.config.background_summaries,
            "pending": self.queue.qsize(),
            "done": self.done,
            "dropped": self.dropped,
            "lastError": self.last_error,
        }
