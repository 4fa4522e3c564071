"""The async core of scribe-ls, and the in-process API for agents and scripts.

```python
async with Scribe("/path/to/repo") as s:
    session = await s.start_session(title="try the cache")
    await s.note("decided to key the cache by HEAD", kind="decision")
    async for event in s.subscribe():
        ...
```

No pygls here and no wire shapes: the ``rpc`` package maps JSON-RPC onto these methods.
Each method is an operation declared in :mod:`scribe_ls.contract.operations` (its ``handler``
names the method; a test holds the two together), checked by that declaration, then one
:class:`~scribe_ls.core.operations.Ledger` call (redaction, one transaction, the worklog
brought up to date) run in the store's thread; its events are then told to listeners.
Other processes' writes arrive through the :class:`Relay`. The service's larger parts are
modules of their own (reads, resume, summaries, heartbeats, status, the worklog catch-up).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, load_config
from ..contract.operations import APPEND_ENTRY, GET_CONTEXT, HEARTBEAT, RESUME, SUMMARIZE
from ..errors import ScribeError, StoreUnavailable
from ..model import (
    MESSAGE_ERROR,
    MESSAGE_WARNING,
    Entry,
    Session,
    SessionChange,
)
from ..store.database import Store
from ..store.layout import find_repo_root
from ..store.threaded import AsyncStore
from ..worklog.format import SESSION_STOPPED
from .events import SHOW_MESSAGE, SUBSCRIBER_QUEUE, EventBus, Listener, Relay, Subscription
from .group_commit import GroupCommit
from .heartbeats import Heartbeats
from .operations import AppendRequest, Ledger, Outcome
from .ports import Progress
from .reads import Reads

if TYPE_CHECKING:
    from ..context import ContextProvider
    from ..recording.recorder import Recorder
    from .background_summaries import BackgroundSummaries

log = logging.getLogger(__name__)


# How long a start waits for the recorder's watch (a huge tree takes a while to walk).
READY_TIMEOUT = 5.0


__all__ = ["Progress", "Scribe", "Subscription"]


class Scribe(Reads):
    """One repository's session service. Open it with ``async with`` or :meth:`open`."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        config: Config | None = None,
        relay: bool = False,
        record: bool = False,
        daemon: bool | None = None,
    ) -> None:
        """``relay=True`` also tells this process's listeners about changes other processes
        make to the store (servers want that; a one-shot call does not).
        ``record=True`` watches the work tree and git and records activity, whenever this
        process holds the root's recorder lease (one process per root records).
        ``daemon``: whether starting a session hands the root to the background recorder
        when this process does not record (default: the ``daemon`` setting and
        ``$SCRIBE_LS_DAEMON``)."""
        self.root = find_repo_root(Path(root) if root is not None else Path.cwd())
        self.config = config or load_config(self.root)
        # Identifies this process's writes in the change feed.
        self.origin = f"{os.getpid()}-{os.urandom(3).hex()}"
        self.store = AsyncStore(Store(self.root, origin=self.origin))
        self.ledger = Ledger(self.store.sync, self.config)
        self.events = EventBus(self.origin)
        # Appends that arrive while one is being committed share the next commit.
        self._appends: GroupCommit[AppendRequest, Outcome] = GroupCommit(self._commit_appends)
        self._started = time.monotonic()
        self._opened = False
        self._relay = Relay(self.store, self.events) if relay else None
        self._record = record
        self._daemon = daemon
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._stale_task: asyncio.Task[None] | None = None  # worklogs a crash left behind
        self._context: ContextProvider | None = None
        self.recorder: Recorder | None = None
        self._recorder_task: asyncio.Task[None] | None = None
        # Summaries refreshed in the background, by the process that records the root.
        self.summaries: BackgroundSummaries | None = None
        self._summaries_task: asyncio.Task[None] | None = None
        # (LSP MessageType, text): problems found at open, told once to each client.
        self.notices: list[tuple[int, str]] = []
        self._heartbeats = Heartbeats(self._write_beat)

    # -- lifecycle --------------------------------------------------------------------------

    async def open(self) -> Scribe:
        """Open the store and start watching. A store that cannot be used (unsafe, damaged
        beyond repair, unreadable) does not fail the open: every call then answers -32013
        with the reason, and :attr:`notices` says it once to whoever connects."""
        if self._opened:
            return self
        for warning in self.config.warnings:
            log.warning("config: %s", warning)
            self.notices.append((MESSAGE_WARNING, f"scribe-ls config: {warning}"))
        try:
            # Servers pay for a full quick_check once; a one-shot call only for the probes.
            await self.store.open(thorough=self.watching)
        except StoreUnavailable as exc:
            log.error("%s", exc.message)
            self.notices.append((MESSAGE_ERROR, f"scribe-ls: {exc.message}"))
            self._opened = True
            return self
        self.notices.extend((MESSAGE_WARNING, f"scribe-ls: {notice}") for notice in self.store.notices)
        # Every open, not only when .scribe/ is new: something else (the log file) may have
        # created the directory first. It is one small read when the file is there.
        await asyncio.to_thread(self.store.layout.keep_out_of_git)
        self._opened = True
        try:
            await self._start_watching()
        except StoreUnavailable as exc:
            # The store opened but cannot be written after all (a disk that filled or went
            # read-only): serve what can be served, say why nothing is recorded.
            log.error("not watching: %s", exc.message)
            self.notices.append((MESSAGE_ERROR, f"scribe-ls: not recording: {exc.message}"))
        return self

    async def _start_watching(self) -> None:
        if self._relay is not None:
            from ..recording.watch import watch_store

            await self._relay.start()
            self._relay_task = asyncio.create_task(
                watch_store(self.store.dir, self._relay.relay_changes, self._stop, self.reload_config)
            )
        if self.watching and self.store.read_only is None:
            from .catch_up import render_stale_worklogs

            self._stale_task = asyncio.create_task(render_stale_worklogs(self))
        if self._record and self.store.read_only is None:
            from ..recording.recorder import Recorder
            from .background_summaries import BackgroundSummaries

            self.recorder = Recorder(self)
            self._recorder_task = asyncio.create_task(self.recorder.run(self._stop))
            self.summaries = BackgroundSummaries(self)
            self.add_listener(self.summaries.heard)
            self._summaries_task = asyncio.create_task(self.summaries.run(self._stop))

    def tell(self, message: str) -> None:
        """A finding at start: for clients attaching later (notices) and those attached now."""
        self.notices.append((MESSAGE_WARNING, f"scribe-ls: {message}"))
        self.warn(message)

    async def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        self._stop.set()
        for task in (self._recorder_task, self._relay_task, self._summaries_task, self._stale_task):
            if task is None:
                continue
            try:
                await asyncio.wait_for(task, 5)
            except TimeoutError:
                task.cancel()
            except Exception:
                log.exception("background task failed while closing")
        self._recorder_task = self._relay_task = self._summaries_task = self._stale_task = None
        await self._heartbeats.flush()
        await self.store.shutdown()

    async def __aenter__(self) -> Scribe:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def stopping(self) -> bool:
        """The service is closing: background work stops at its next step."""
        return self._stop.is_set()

    @property
    def uptime(self) -> float:
        """Seconds since this service was made."""
        return time.monotonic() - self._started

    @property
    def watching(self) -> bool:
        """True when this service hears about every change (it records or relays), so a
        cached context packet can be trusted until the next notification."""
        return self._relay is not None or self._record

    # -- notifications ----------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self.events.generation

    @property
    def tree_generation(self) -> int:
        return self.events.tree_generation

    @property
    def store_generation(self) -> int:
        return self.events.store_generation

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every notification; returns a function that removes it."""
        return self.events.add_listener(listener)

    def subscribe(self, maxsize: int = SUBSCRIBER_QUEUE) -> Subscription:
        """Every notification from now on, as an async iterator (for agents).

        Listening starts when this is called, not at the first ``anext``, so nothing that
        happens in between is missed. Close it (or use ``async with``) when done.
        """
        return Subscription(self.events, maxsize)

    def emit(self, method: str, params: dict[str, Any], origin: str | None = None) -> None:
        self.events.emit(method, params, origin)

    def warn(self, message: str, *, level: int = MESSAGE_WARNING) -> None:
        """A problem the user should see now (recording stopped, git gone): logged, and
        pushed to every client as ``window/showMessage``."""
        log.warning("%s", message)
        self.emit(SHOW_MESSAGE, {"type": level, "message": f"scribe-ls: {message}"})

    async def reload_config(self) -> Config:
        """Read the settings again (an edited ``pyproject.toml`` or ``config.toml``, an
        editor's ``didChangeConfiguration``). New values apply at once, also to the open
        sessions that did not set their own (``idle_timeout``); new problems are told to
        every client as a warning."""
        config = await asyncio.to_thread(load_config, self.root, self.store.layout)
        if config == self.config:
            return config
        old_warnings = set(self.config.warnings)
        self.config = config
        await self.store.run(self.ledger.apply_config, config)
        if self.recorder is not None:
            self.recorder.config_changed()
        log.info("config reloaded: idle_timeout=%s", config.idle_timeout)
        for warning in config.warnings:
            if warning not in old_warnings:
                self.warn(f"config: {warning}")
        return config

    async def _write(self, operation: Callable[..., Outcome], *args: Any, **kwargs: Any) -> Outcome:
        outcome = await self.store.run(operation, *args, **kwargs)
        self.events.tell(outcome.events)
        return outcome

    # -- sessions ---------------------------------------------------------------------------

    async def start_session(
        self,
        backlog_id: str | None = None,
        title: str | None = None,
        tags: Sequence[str] | None = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> Session:
        """Start a session, or rejoin the open one of the same backlog item (applying what
        is given); see :meth:`start`, which also says which it was."""
        return (await self.start(backlog_id, title, tags, type, priority)).session

    async def start(
        self,
        backlog_id: str | None = None,
        title: str | None = None,
        tags: Sequence[str] | None = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> SessionChange:
        """:meth:`start_session`, with what it did: ``started``, ``resumed`` (it was
        paused), ``updated`` (open, and a given title, tag, type or priority changed it)
        or ``rejoined`` (open, unchanged)."""
        outcome = await self._write(self.ledger.start_session, backlog_id, title, tags, type, priority)
        assert outcome.session is not None and outcome.change is not None
        if self.recorder is not None:
            await self.recording_ready()  # a save right after the answer is seen
        if not self._record and self._daemon is not False:
            from ..daemon import client as control

            await asyncio.to_thread(control.hand_off_quietly, self.root, self._daemon, self.config.daemon)
        return SessionChange(outcome.session, outcome.change)

    async def recording_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait (at most ``timeout``) until this process's recorder has its watch in place,
        or knows another process records; False if it is not there by then."""
        if self.recorder is None:
            return False
        try:
            await asyncio.wait_for(self.recorder.ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop_session(self, session_id: str | None = None, *, reason: str = SESSION_STOPPED) -> Session:
        outcome = await self._write(self.ledger.stop_session, session_id, reason=reason)
        assert outcome.session is not None
        return outcome.session

    async def update_session(
        self,
        session_id: str,
        *,
        status: str | None = None,
        title: str | None = None,
        add_tags: Sequence[str] | None = (),
        remove_tags: Sequence[str] | None = (),
    ) -> Session:
        outcome = await self._write(
            self.ledger.update_session,
            session_id,
            status=status,
            title=title,
            add_tags=add_tags,
            remove_tags=remove_tags,
        )
        assert outcome.session is not None
        return outcome.session

    async def follow_branch(self) -> Session | None:
        """Apply a switch of the checked-out branch, unless another process already did
        (see :meth:`Ledger.follow_branch`); the current session after it."""
        await self._write(self.ledger.follow_branch)
        return await self.current_session()

    async def session_for_activity(self) -> Session | None:
        """The session work-tree activity is recorded in (see
        :meth:`Ledger.session_for_activity`)."""
        return (await self._write(self.ledger.session_for_activity)).session

    async def pause_idle_sessions(self) -> list[Session]:
        """Pause active sessions idle past their timeout; activity resumes them."""
        outcome = await self._write(self.ledger.pause_idle_sessions)
        return [event.session for event in outcome.events if isinstance(event, SessionChange)]

    async def cleanup(self) -> list[Session]:
        """Stop every open session idle for longer than its idle timeout."""
        outcomes = await self.store.run(self.ledger.cleanup)
        for outcome in outcomes:
            self.events.tell(outcome.events)
        return [outcome.session for outcome in outcomes if outcome.session is not None]

    # -- entries ----------------------------------------------------------------------------

    async def append_entry(
        self,
        text: str,
        kind: str | None = "note",
        session_id: str | None = None,
        files: Sequence[str] | None = (),
        *,
        stat_files: Sequence[str] = (),
        request_id: str | None = None,
        author: str | None = None,
    ) -> Entry:
        """Add an entry; it is durable when this returns, secrets redacted. A retry with the
        same ``request_id`` returns the entry stored the first time; ``author`` names the
        agent writing it (see :meth:`Ledger.append_entry
        <scribe_ls.core.operations.Ledger.append_entry>`)."""
        given = APPEND_ENTRY.check(
            text=text, kind=kind, session_id=session_id, files=files, request_id=request_id, author=author
        )
        outcome = await self._appends.submit(AppendRequest(**given, stat_files=stat_files))
        assert outcome.entry is not None
        return outcome.entry

    async def _commit_appends(self, requests: Sequence[AppendRequest]) -> list[Outcome | ScribeError]:
        results = await self.store.run(self.ledger.append_entries, requests)
        for result in results:
            if isinstance(result, Outcome):
                self.events.tell(result.events)
        return results

    async def note(
        self, text: str, kind: str = "note", *, files: Sequence[str] | None = (), author: str | None = None
    ) -> Entry:
        """Agent-friendly spelling of :meth:`append_entry` on the current session."""
        return await self.append_entry(text, kind=kind, files=files, author=author)

    # -- context and summaries --------------------------------------------------------------

    async def context(
        self,
        session_id: str | None = None,
        *,
        sections: Sequence[str] | None = None,
        max_chars: int | None = 12000,
        format: str | None = "json",
        max_tokens: int | None = None,
        since: str | None = None,
    ) -> dict[str, Any]:
        """The context packet for a session (default: the current one), as
        ``scribe/getContext`` returns it. ``max_tokens`` bounds it in estimated tokens
        too (:mod:`scribe_ls.context.tokens`); every section says what it costs. ``since``:
        the ``etag`` of a packet the caller has; only what changed comes back
        (:mod:`scribe_ls.context.delta`), or a full packet with ``full: true``."""
        from ..context import ContextProvider
        from ..context.request import context_request

        request = context_request(
            GET_CONTEXT.check(
                session_id=session_id,
                sections=sections,
                max_chars=max_chars,
                format=format,
                max_tokens=max_tokens,
                since=since,
            )
        )
        if self._context is None:
            self._context = ContextProvider(self)
        return await self._context.get(request)

    async def summarize(
        self, session_id: str | None = None, *, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Summarize a session (default: the current one) with every other session of its
        backlog item, write ``.scribe/summaries/<key>-summary.md``, and tell listeners
        (``scribe/summaryReady``); see :func:`~scribe_ls.core.summary_file.write_summary`."""
        from .summary_file import write_summary

        return await write_summary(
            self, SUMMARIZE.check(session_id=session_id)["session_id"], progress=progress
        )

    async def report(
        self,
        kind: str | None = "time",
        *,
        since: str | None = None,
        until: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """What ``scribe/report`` answers: a time report or a stand-up (see
        :meth:`Ledger.report <scribe_ls.core.operations.Ledger.report>`), read from the daily
        roll-ups."""
        built = await self.store.run(self.ledger.report, kind, since=since, until=until, by=by)
        return built.to_wire()

    async def heartbeat(self, session_id: str | None = None) -> Session | None:
        """An editor says the developer is at work now (focus, typing): a pulse of active
        time for the session (default: the one activity belongs to). Beats are merged, one
        write a window (:mod:`scribe_ls.core.heartbeats`). Returns the session credited
        (None: none, or merged into the next write)."""
        return await self._heartbeats.beat(HEARTBEAT.check(session_id=session_id)["session_id"])

    async def _write_beat(self, session_id: str | None, at: datetime | None) -> Session | None:
        return (await self._write(self.ledger.heartbeat, session_id, at)).session

    async def resume(self, backlog_id: str | None = None, session_id: str | None = None) -> dict[str, Any]:
        """What ``scribe/resume`` answers: where a backlog item's work stands, to pick it up
        (default: the current session; ``backlog_id``: that item's latest session); see
        :func:`~scribe_ls.core.resume.resume_packet`."""
        from .resume import resume_packet

        return await resume_packet(self, **RESUME.check(backlog_id=backlog_id, session_id=session_id))

    async def metrics(self) -> dict[str, Any]:
        """What ``scribe/metrics`` answers (:func:`~scribe_ls.core.status.metrics_report`)."""
        from .status import metrics_report

        return metrics_report(self)

    async def status(self) -> dict[str, Any]:
        """What ``scribe/status`` answers, also when the store cannot be used
        (:func:`~scribe_ls.core.status.status_report`)."""
        from .status import status_report

        return await status_report(self)
