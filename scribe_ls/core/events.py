"""What the service tells its listeners, and the relay of other processes' writes.

A notification is the push a client gets: a method name and JSON params. Listeners are
called in order and a failing one does not stop the others; :class:`Subscription` is the
bounded async iterator agents read. :class:`Relay` turns rows of the store's change feed
written by *other* processes (the CLI, a second editor) into the same notifications.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..metrics import METRICS
from ..model import Event, SessionChange
from ..store.threaded import AsyncStore

log = logging.getLogger(__name__)

SESSION_CHANGED = "scribe/sessionChanged"
ENTRY_ADDED = "scribe/entryAdded"
ACTIVITY = "scribe/activity"
SUMMARY_READY = "scribe/summaryReady"
# To one client, once, when it opens a root whose current session is paused.
RESUME_AVAILABLE = "scribe/resumeAvailable"
# A file the current session touched was changed by another open session (this root's, or
# a linked worktree's): scribe_ls/core/overlaps.py.
OVERLAP = "scribe/overlap"
NOTIFICATIONS = (SESSION_CHANGED, ENTRY_ADDED, ACTIVITY, SUMMARY_READY, RESUME_AVAILABLE, OVERLAP)
# LSP's own: problems the user should see (a store that cannot be used, recording stopped).
SHOW_MESSAGE = "window/showMessage"

# Change-feed rows that carry their notification's params: change name -> method.
_PUSHES_WITH_PAYLOAD = {"activity": ACTIVITY, "summary": SUMMARY_READY, "overlap": OVERLAP}

SUBSCRIBER_QUEUE = 1000


@dataclass(frozen=True, slots=True)
class Notification:
    """A push from the service to every connected client."""

    method: str
    params: dict[str, Any]
    # Which process caused it; relayed notifications from other processes keep their origin.
    origin: str = ""


Listener = Callable[[Notification], None]


def push_of(event: Event) -> tuple[str, dict[str, Any]]:
    """The notification that tells a client about ``event``."""
    if isinstance(event, SessionChange):
        return SESSION_CHANGED, {"session": event.session.to_wire(), "change": event.change}
    return ENTRY_ADDED, {"entry": event.to_wire()}


def _moves_tree(method: str, params: dict[str, Any]) -> bool:
    """A notification that says git's view of the work tree moved (a commit was recorded,
    the branch switched); HEAD itself is also compared by the packet."""
    if method == ENTRY_ADDED:
        return params.get("entry", {}).get("kind") == "commit"
    return method == SESSION_CHANGED and params.get("change") == "branchChanged"


class EventBus:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._listeners: list[Listener] = []
        # Bumped on every notification: anything a client is told about may change the
        # context packet, so cached packets from an older generation are stale.
        self.generation = 0
        # The same, per kind of section (the packet caches each section on its own): the
        # work tree's (git status, diff, commits) moves with saves, commits and branch
        # switches; the store's (session, worklog, summary, sessions) with everything but
        # saves. A note does not make git status stale, nor a save the worklog.
        self.tree_generation = 0
        self.store_generation = 0

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every notification; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, method: str, params: dict[str, Any], origin: str | None = None) -> None:
        self.generation += 1
        if method != ACTIVITY:
            self.store_generation += 1
        if method == ACTIVITY or _moves_tree(method, params):
            self.tree_generation += 1
        event = Notification(method, params, origin or self.origin)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken client must not stop the others hearing it
                log.exception("notification listener failed for %s", method)

    def tell(self, events: Sequence[Event], origin: str | None = None) -> None:
        for event in events:
            self.emit(*push_of(event), origin)


class Subscription:
    """A bounded queue of notifications: a consumer that stops reading loses the oldest
    events rather than growing memory without limit."""

    def __init__(self, bus: EventBus, maxsize: int = SUBSCRIBER_QUEUE) -> None:
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize)
        self._remove = bus.add_listener(self._put)

    def _put(self, event: Notification) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            METRICS.add("pushes_dropped")
        self._queue.put_nowait(event)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Notification:
        return await self._queue.get()

    def close(self) -> None:
        self._remove()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class Relay:
    """Tells the bus about changes other processes committed to the store."""

    def __init__(self, store: AsyncStore, bus: EventBus) -> None:
        self.store = store
        self.bus = bus
        self._last_change = 0
        self._data_version = -1

    async def start(self) -> None:
        """Begin at the feed's end: what came before is not news to this process."""
        if self.store.read_only is None:
            await self.store.prune_changes()
        self._last_change = await self.store.last_change_id()
        self._data_version = await self.store.data_version()

    async def relay_changes(self) -> None:
        """Tell listeners about changes other processes committed since the last call: one
        visit to the store thread per page of the feed (it is read after every burst of
        another process's commits, in every process)."""
        while True:
            seen, after = self._data_version, self._last_change
            read = await self.store.foreign_changes(after, seen, self.bus.origin)
            self._data_version, self._last_change = read.version, read.last_id
            for change in read.changes:
                if change.change in _PUSHES_WITH_PAYLOAD:
                    if change.payload:
                        self.bus.emit(
                            _PUSHES_WITH_PAYLOAD[change.change], json.loads(change.payload), change.origin
                        )
                elif change.entry_id is not None:
                    if (entry := read.entries.get(change.entry_id)) is not None:
                        self.bus.tell([entry], change.origin)
                elif (session := read.sessions.get(change.session_id)) is not None:
                    self.bus.tell([SessionChange(session, change.change)], change.origin)
            if read.version != seen or read.last_id == after:
                return  # caught up (a full page keeps the old version: read on)
