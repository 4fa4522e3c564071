"""The async core of scribe-ls, and the in-process API for agents and scripts.

```python
async with Scribe("/path/to/repo") as s:
    session = await s.start_session(title="try the cache")
    await s.note("decided to key the cache by HEAD", kind="decision")
    async for event in s.subscribe():
        ...
```

No pygls here and no wire shapes: the ``rpc`` package maps JSON-RPC onto these methods.
Every operation is a :class:`~scribe_ls.core.operations.Ledger` call (checks, redaction, one
transaction, the worklog brought up to date) run in the store's thread; its events are
then told to listeners. Other processes' writes arrive through the :class:`Relay`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, load_config
from ..errors import InvalidParams, ScribeError, StoreUnavailable
from ..git import commands as git
from ..model import (
    CONTEXT_SECTIONS,
    MESSAGE_ERROR,
    MESSAGE_WARNING,
    Entry,
    Overlap,
    SearchHit,
    Session,
    SessionChange,
    SessionSummary,
    parse_iso,
    utc_now,
)
from ..redact import redact
from ..spec.operations import APPEND_ENTRY, GET_CONTEXT, HEARTBEAT, RESUME
from ..store.database import Store
from ..store.layout import find_repo_root
from ..store.threaded import AsyncStore
from ..worklog.files import EDITED_BY_HAND
from ..worklog.format import SESSION_STOPPED
from .events import SHOW_MESSAGE, SUBSCRIBER_QUEUE, SUMMARY_READY, EventBus, Listener, Relay, Subscription
from .group_commit import GroupCommit
from .operations import AppendRequest, Ledger, Outcome

if TYPE_CHECKING:
    from ..context import ContextProvider
    from ..recording.recorder import Recorder
    from .background_summaries import BackgroundSummaries

log = logging.getLogger(__name__)

# Reports how far a long request got: (message, percentage 0..100). The server turns it
# into ``$/progress`` for a client that offered a workDoneToken.
Progress = Callable[[str, int], None]

# How long a start waits for the recorder's watch (a huge tree takes a while to walk).
READY_TIMEOUT = 5.0
# A resume packet's lists: the newest this many of each; files touched; summary excerpt.
RESUME_ITEMS = 10
RESUME_FILES = 20
RESUME_SUMMARY_CHARS = 2000

# Heartbeats closer together than this (seconds) are merged into one write.
HEARTBEAT_EVERY = 30.0
MAX_BEAT_KEYS = 256

__all__ = ["Progress", "Scribe", "Subscription"]


class Scribe:
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
        # Heartbeats per session ("" = the current one): when the last was written, the
        # wall time of one merged since, and the write due at the end of its window.
        self._beats: dict[str, float] = {}
        self._beat_wall: dict[str, datetime] = {}
        self._beat_later: dict[str, asyncio.Task[None]] = {}

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
            self._stale_task = asyncio.create_task(self._render_stale_worklogs())
        if self._record and self.store.read_only is None:
            from ..recording.recorder import Recorder
            from .background_summaries import BackgroundSummaries

            self.recorder = Recorder(self)
            self._recorder_task = asyncio.create_task(self.recorder.run(self._stop))
            self.summaries = BackgroundSummaries(self)
            self.add_listener(self.summaries.heard)
            self._summaries_task = asyncio.create_task(self.summaries.run(self._stop))

    async def _render_stale_worklogs(self) -> None:
        """After a crash (or another process's), a worklog may be behind the store: render
        those in the background, one store visit each, so that initialize is answered at
        once and requests go in between (a big store's catch-up took over 30 s)."""
        try:
            for key in await self.store.run(self.ledger.worklogs.stale_keys):
                if self._stop.is_set():
                    return
                worklogs = self.ledger.worklogs
                kept_before = len(worklogs.kept)
                await self.store.run(worklogs.render_quietly, key)
                log.info("worklog %s was out of step with the store; rendered it", key)
                for kept_key, kept, missing in worklogs.kept[kept_before:]:
                    # Only entries the store lacks say the store is older; a hand edit does not.
                    what = (
                        "was edited by hand"
                        if missing == EDITED_BY_HAND
                        else f"held {missing} (the store is older than it: restored, or emptied)"
                    )
                    self._tell(
                        f"the worklog of {kept_key} {what}; kept it as {kept} and wrote it again"
                        " from the store"
                    )
            for key, found in await self.store.run(self.ledger.worklogs.orphans):
                self._tell(f"the worklog of {key} {found}")
        except ScribeError as exc:
            log.warning("worklogs not brought up to date: %s", exc.message)

    def _tell(self, message: str) -> None:
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
        await self._write_merged_beats()
        await self.store.shutdown()

    async def _write_merged_beats(self) -> None:
        """Closing: a heartbeat merged into a window not over yet is written now."""
        for key, task in list(self._beat_later.items()):
            task.cancel()
            at = self._beat_wall.pop(key, None)
            if at is None:
                continue
            try:
                await self._write(self.ledger.heartbeat, key or None, at)
            except ScribeError as exc:
                log.info("late heartbeat not recorded: %s", exc.message)

    async def __aenter__(self) -> Scribe:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

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

    async def session_or_current(self, session_id: str | None) -> Session:
        """The named session, or the current one (error -32011 if there is none)."""
        return await self.store.run(self.ledger.session_or_current, session_id)

    async def current_session(self) -> Session | None:
        return await self.store.run(self.ledger.current_session)

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

            try:
                if self._daemon:  # asked for: whatever the config and environment say
                    await asyncio.to_thread(control.hand_root, self.root)
                else:  # None: as the config and $SCRIBE_LS_DAEMON say
                    await asyncio.to_thread(control.hand_off, self.root, configured=self.config.daemon)
            except (OSError, control.DaemonError) as exc:
                log.warning("not recording %s in the background: %s", self.root, exc)
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

    async def overlapping_sessions(self, session_id: str | None) -> list[Overlap]:
        """Other open sessions (this root's, then the linked worktrees'), each with the
        files both it and this one touched."""
        return await self.store.run(self.ledger.overlapping_sessions, session_id)

    async def search(self, query: str, limit: int | None = 20) -> list[SearchHit]:
        """Entries matching every word of ``query``: whole-word matches first, then word
        starts, each newest first (see :meth:`Store.search <scribe_ls.store.database.Store.search>`)."""
        return await self.store.run(self.ledger.search, query, limit)

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
        from ..context import ContextProvider, ContextRequest
        from ..context.provider import json_floor

        given = GET_CONTEXT.check(
            session_id=session_id,
            sections=sections,
            max_chars=max_chars,
            format=format,
            max_tokens=max_tokens,
            since=since,
        )
        chosen, budget, shape = given["sections"], given["max_chars"], given["format"]
        tokens = given["max_tokens"]
        if shape == "json":
            # A JSON packet's keys and its sections' stubs cost something however much is
            # cut: a budget below that is refused, not silently exceeded.
            floor_chars, floor_tokens = json_floor(tuple(chosen or CONTEXT_SECTIONS))
            for field, asked, floor in (
                ("max_chars", budget, floor_chars),
                ("max_tokens", tokens, floor_tokens),
            ):
                if asked is not None and asked < floor:
                    raise InvalidParams(
                        field,
                        f"a JSON packet of these sections needs at least {floor} (its keys, and what each"
                        " section left out): ask for fewer sections, a larger budget, or format markdown",
                    )
        if self._context is None:
            self._context = ContextProvider(self)
        request = ContextRequest(
            given["session_id"], chosen or CONTEXT_SECTIONS, budget, shape, tokens, given["since"]
        )
        return await self._context.get(request)

    async def summarize(
        self, session_id: str | None = None, *, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Summarize a session (default: the current one) with every other session of its
        backlog item, write ``.scribe/summaries/<key>-summary.md``, and tell listeners
        (``scribe/summaryReady``). Returns what ``scribe/summarize`` answers."""
        from .summarize import extract_summary, render_summary

        report = progress or (lambda message, percentage: None)
        session = await self.session_or_current(session_id)
        key = session.worklog_key
        report(f"Reading the entries of {key}", 10)
        sessions, entries = await self.store.sessions_and_entries(key)
        report("Reading the work tree", 50)
        uncommitted: list[str] | None = None
        current = await self.current_session()
        # The work tree is the checked-out item's: a completed or imported item, or one on
        # another branch, has nothing in progress there.
        if current is not None and current.id == session.id:
            try:
                # A file's name can hold a secret (AKIA….txt): redacted like every other path.
                files = (await git.status(self.root)).files
                uncommitted = [redact(f.path) for f in files if not f.path.startswith(".scribe/")]
            except git.GitError:
                pass  # not a repository, or git is missing: say nothing about it
        report("Writing the summary", 80)
        layout = self.store.layout
        path = layout.summary_path(key)
        relative = layout.relative(path)

        def extract() -> tuple[Any, str]:
            # All of an item's entries: CPU work for a worker thread, not the event loop.
            found = extract_summary(key, sessions, entries, uncommitted)
            return found, render_summary(found, layout.relative(layout.worklog_path(key)), relative)

        summary, markdown = await asyncio.to_thread(extract)
        try:
            await asyncio.to_thread(layout.write_atomic, path, markdown)
        except OSError as exc:  # read-only or full disk, or a planted link: the store's state
            raise StoreUnavailable(f"cannot write {relative}: {exc.strerror or exc}") from exc
        payload = {"sessionId": session.id, "path": str(path)}
        await self.store.publish("summary", session.id, json.dumps(payload))
        self.emit(SUMMARY_READY, payload)
        report(f"Summary written to {relative}", 100)
        return summary.to_wire(session.id, str(path), markdown)

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
        time for the session (default: the one activity belongs to). Beats closer together
        than :data:`HEARTBEAT_EVERY` are merged: the latest is written at the end of the
        window, so a chatty client costs one write per window. Returns the session credited
        (None: none, or merged into the next write)."""
        key = HEARTBEAT.check(session_id=session_id)["session_id"] or ""
        now = time.monotonic()
        last = self._beats.get(key)
        if last is not None and now - last < HEARTBEAT_EVERY:
            if key not in self._beat_later:
                self._beat_later[key] = asyncio.create_task(self._beat_at_window_end(key, last))
            self._beat_wall[key] = utc_now()
            return None
        if len(self._beats) >= MAX_BEAT_KEYS:  # bounded: forget windows long over
            self._beats = {k: t for k, t in self._beats.items() if now - t < HEARTBEAT_EVERY}
        self._beats[key] = now
        outcome = await self._write(self.ledger.heartbeat, session_id)
        return outcome.session

    async def _beat_at_window_end(self, key: str, window_start: float) -> None:
        try:
            await asyncio.sleep(max(0.0, window_start + HEARTBEAT_EVERY - time.monotonic()))
            self._beats[key] = time.monotonic()
            at = self._beat_wall.pop(key, None)
            await self._write(self.ledger.heartbeat, key or None, at)
        except ScribeError as exc:  # the session went away meanwhile: nothing to credit
            log.info("late heartbeat not recorded: %s", exc.message)
        finally:
            self._beat_later.pop(key, None)

    async def resume(self, backlog_id: str | None = None, session_id: str | None = None) -> dict[str, Any]:
        """What ``scribe/resume`` answers: where a backlog item's work stands, to pick it up
        (default: the current session; ``backlog_id``: that item's latest session). Last
        decisions, open todos, the work tree's uncommitted changes (when the item is the
        one checked out), the files touched last, how long since the last activity and
        the last summary written, with a Markdown rendering of it all."""
        from .summarize import extract_summary

        given = RESUME.check(backlog_id=backlog_id, session_id=session_id)
        backlog_id, session_id = given["backlog_id"], given["session_id"]
        if backlog_id is not None and session_id is None:
            found = await self.list_sessions(backlog_id=backlog_id, limit=1)
            if not found:
                raise InvalidParams("backlog_id", f"no session for {backlog_id}")
            session = found[0]
        else:
            session = await self.session_or_current(session_id)
        key = session.worklog_key
        sessions, entries = await self.store.sessions_and_entries(key)
        # All of an item's entries (as for summarize): a worker thread's work, not the loop's.
        summary = await asyncio.to_thread(extract_summary, key, sessions, entries, None)
        touched: dict[str, None] = {}
        for entry in reversed(entries):
            for path in entry.files:
                touched.setdefault(path, None)
            if len(touched) >= RESUME_FILES:
                break
        current = await self.current_session()
        uncommitted = branch = None
        if current is not None and current.id == session.id:  # the work tree is this item's
            packet = await self.context(session.id, sections=["diff"], max_chars=1_000_000)
            diff = packet["sections"]["diff"]
            if diff["ok"]:
                # With a base the diff is the branch's whole work: what is committed there is
                # the branch's, not uncommitted.
                files = [
                    {k: f[k] for k in ("path", "added", "deleted", "state") if k in f}
                    for f in diff["data"]["files"]
                ]
                uncommitted = [f for f in files if f.get("state") != "committed"]
                if "since" in diff:
                    branch = {"since": diff["since"], "files": files}
        layout = self.store.layout
        summary_text = await asyncio.to_thread(layout.read_text, layout.summary_path(key))
        idle = max(0.0, (utc_now() - parse_iso(session.last_activity_at)).total_seconds())
        marks = await self._changed_marks(entries) if uncommitted is not None else {}
        result: dict[str, Any] = {
            "session": session.to_wire(),
            "decisions": [_marked(text, marks) for text in summary.decisions[-RESUME_ITEMS:]],
            "openTodos": [_marked(text, marks) for text in summary.next_steps[-RESUME_ITEMS:]],
            "completed": list(summary.completed[-RESUME_ITEMS:]),
            "inProgress": list(summary.in_progress[-RESUME_ITEMS:]),
            "uncommitted": uncommitted,
            "branch": branch,
            "lastFiles": list(touched)[:RESUME_FILES],
            "secondsSinceActivity": int(idle),
            "lastSummary": (
                {"path": str(layout.summary_path(key)), "text": summary_text[:RESUME_SUMMARY_CHARS]}
                if summary_text
                else None
            ),
        }
        result["markdown"] = _resume_markdown(result)
        return result

    async def _changed_marks(self, entries: Sequence[Entry]) -> dict[str, list[str]]:
        """Decisions' and todos' texts, with the files they name that changed since."""
        from ..context.provider import CLAIMS, files_changed_since

        claims = [e for e in entries if e.kind in CLAIMS][-4 * RESUME_ITEMS :]
        changed = await files_changed_since(self.root, claims)
        return {e.text: changed[e.id] for e in claims if e.id in changed}

    async def overlaps(self, session_id: str, paths: list[str]) -> list[dict[str, Any]]:
        """Other open sessions (this root's, or a linked worktree's) that touched any of
        ``paths``, which ``session_id`` just changed; a sibling worktree's clients hear
        the mirror image (see :mod:`scribe_ls.core.overlaps`)."""
        from .overlaps import find_overlaps

        session = await self.get_session(session_id)
        return await self.store.run(find_overlaps, self.store.sync, session, paths)

    async def tell_sibling(self, session_id: str, overlap: dict[str, Any]) -> None:
        """The mirror image of an overlap, to the linked worktree it involves."""
        from .overlaps import tell_sibling

        session = await self.get_session(session_id)
        await self.store.run(tell_sibling, self.store.sync, session, overlap)

    async def metrics(self) -> dict[str, Any]:
        """What ``scribe/metrics`` answers: this process's bounded histograms and counters
        (shared by every root a process serves), and this root's queues."""
        from ..metrics import snapshot

        return {
            **snapshot(),
            "queues": {
                "store": self.store.pending,
                "summaries": self.summaries.queue.qsize() if self.summaries is not None else 0,
            },
            "watcherRestarts": self.recorder.restarts if self.recorder is not None else 0,
        }

    async def status(self) -> dict[str, Any]:
        """Answers even when the store cannot be used (``storeError`` says why)."""
        recorder = self.recorder
        watcher = None  # the ledger reports "not recording"
        if recorder is not None:
            watcher = {
                "running": recorder.running,
                "recorder": recorder.holds_lease,
                "events": recorder.events,
                "lastEventAt": recorder.last_event_at,
                "lastError": recorder.last_error,
                "restarts": recorder.restarts,
                "mode": self.config.watch,  # events (inotify and friends) or poll
            }
        report = await self.store.run(
            self.ledger.status, watcher=watcher, uptime=time.monotonic() - self._started
        )
        # This status call itself is not waiting any more when it reads the count.
        report["queue"] = {"pending": self.store.pending}
        report["summaries"] = (
            self.summaries.status()
            if self.summaries is not None
            else {"enabled": False, "pending": 0, "done": 0, "dropped": 0, "lastError": None}
        )
        return report


def _ago(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h {minutes % 60} min" if hours < 48 else f"{hours // 24} days"


def _marked(text: str, marks: dict[str, list[str]]) -> str:
    """A decision or todo as resume lists it, saying which of its files changed since."""
    changed = marks.get(text)
    return f"{text} (files changed since: {', '.join(changed)})" if changed else text


def _counts(f: dict[str, Any]) -> str:
    if "added" not in f:
        return " (untracked)"
    return " (binary)" if f["added"] is None else f" (+{f['added']}/-{f['deleted']})"


def _resume_markdown(packet: dict[str, Any]) -> str:
    """A resume packet for a person or a prompt; what came from the repository and its notes
    is quoted (:mod:`scribe_ls.markdown`) and said to be data."""
    from ..markdown import DATA_NOTICE, inline

    session = packet["session"]
    title = session["backlogId"] or session["id"]
    lines = [
        f"# Resume {title}: {inline(session['title'])}",
        "",
        DATA_NOTICE,
        f"{session['status']} · branch {inline(session['branch'] or '-')} · last activity"
        f" {_ago(packet['secondsSinceActivity'])} ago · {session['stats']['entries']} entries",
    ]
    for heading, items in (
        ("Decisions", packet["decisions"]),
        ("Open todos", packet["openTodos"]),
        ("In progress", packet["inProgress"]),
        ("Completed", packet["completed"]),
    ):
        if items:
            lines += ["", f"## {heading}", "", *(f"- {inline(item)}" for item in items)]
    if packet["uncommitted"]:
        lines += ["", "## Uncommitted", ""]
        lines += [f"- {inline(f['path'])}{_counts(f)}" for f in packet["uncommitted"]]
    if packet.get("branch"):
        committed = [f for f in packet["branch"]["files"] if f.get("state", "").startswith("committed")]
        if committed:
            lines += ["", f"## Committed on this branch since {inline(packet['branch']['since'])}", ""]
            lines += [f"- {inline(f['path'])}{_counts(f)}" for f in committed]
    if packet["lastFiles"]:
        lines += ["", "## Files touched last", "", *(f"- {inline(path)}" for path in packet["lastFiles"])]
    if packet["lastSummary"]:
        lines += ["", f"Last summary: {inline(packet['lastSummary']['path'])}"]
    return "\n".join(lines) + "\n"
