"""The async core of scribe-ls, and the in-process API for agents and scripts.

```python
async with Scribe("/path/to/repo") as s:
    session = await s.start_session(title="try the cache")
    await s.note("decided to key the cache by HEAD", kind="decision")
    async for event in s.subscribe():
        ...
```

No pygls here: ``server.py`` translates JSON-RPC into :meth:`Scribe.handle` calls and
service notifications into pushes. Every write goes through the store's own thread;
worklogs are re-rendered after each change, before the change is acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import checks, git, worklog
from ._version import __version__
from .checks import BACKLOG_ID_RE, SESSION_STATUSES
from .config import Config, load_config
from .errors import (
    METHOD_NOT_FOUND,
    InvalidParams,
    NoCurrentSession,
    ScribeError,
    SessionNotFound,
    StoreUnavailable,
    on_wire,
)
from .layout import find_repo_root
from .protocol import (
    ACTIVITY,
    APPEND_ENTRY,
    CONTEXT_FORMATS,
    CONTEXT_SECTIONS,
    ENTRY_ADDED,
    GET_CONTEXT,
    GET_ENTRIES,
    GET_SESSION,
    LIST_SESSIONS,
    MESSAGE_ERROR,
    MESSAGE_WARNING,
    REQUESTS,
    SEARCH,
    SESSION_CHANGED,
    SHOW_MESSAGE,
    START_SESSION,
    STATUS,
    STOP_SESSION,
    SUMMARIZE,
    SUMMARY_READY,
    UPDATE_SESSION,
    Entry,
    Notification,
    Session,
    backlog_id_from_branch,
    iso,
    params_object,
    utc_now,
    work_done_token,
)
from .redact import redact, redact_all
from .store import Store

if TYPE_CHECKING:
    from .context import ContextProvider
    from .recorder import Recorder

log = logging.getLogger(__name__)

Listener = Callable[[Notification], None]
# Reports how far a long request got: (message, percentage 0..100). The server turns it
# into ``$/progress`` for a client that offered a workDoneToken.
Progress = Callable[[str, int], None]

# Change-feed rows that carry their notification's params: change name -> method.
_PUSHES_WITH_PAYLOAD = {"activity": ACTIVITY, "summary": SUMMARY_READY}

DEFAULT_TYPE = "development"
DEFAULT_PRIORITY = "medium"
SUBSCRIBER_QUEUE = 1000


class Subscription:
    """A bounded queue of notifications: a consumer that stops reading loses the oldest
    events rather than growing memory without limit."""

    def __init__(self, scribe: Scribe, maxsize: int) -> None:
        self._queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize)
        self._remove = scribe.add_listener(self._put)

    def _put(self, event: Notification) -> None:
        if self._queue.full():
            self._queue.get_nowait()
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


class Scribe:
    """One repository's session service. Open it with ``async with`` or :meth:`open`."""

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        config: Config | None = None,
        relay: bool = False,
        record: bool = False,
    ) -> None:
        """``relay=True`` also tells this process's listeners about changes other processes
        make to the store (servers want that; a one-shot CLI verb does not).
        ``record=True`` watches the work tree and git and records activity, whenever this
        process holds the root's recorder lease (one process per root records)."""
        self.root = find_repo_root(Path(root) if root is not None else Path.cwd())
        self.config = config or load_config(self.root)
        # Identifies this process's writes in the change feed.
        self.origin = f"{os.getpid()}-{os.urandom(3).hex()}"
        self.store = Store(self.root, origin=self.origin)
        self._listeners: list[Listener] = []
        self._started = time.monotonic()
        self._opened = False
        self._relay = relay
        self._stop = asyncio.Event()
        self._relay_task: asyncio.Task[None] | None = None
        self._last_change = 0
        self._data_version = -1
        self._record = record
        # Bumped on every notification: anything a client is told about may change the
        # context packet, so cached packets from an older generation are stale.
        self.generation = 0
        self._context: ContextProvider | None = None
        self.recorder: Recorder | None = None
        self._recorder_task: asyncio.Task[None] | None = None
        # (LSP MessageType, text): problems found at open, told once to each client.
        self.notices: list[tuple[int, str]] = []
        self._handlers: dict[str, Callable[[Any, Progress | None], Awaitable[Any]]] = {
            START_SESSION: self._wire_start_session,
            STOP_SESSION: self._wire_stop_session,
            UPDATE_SESSION: self._wire_update_session,
            GET_SESSION: self._wire_get_session,
            LIST_SESSIONS: self._wire_list_sessions,
            APPEND_ENTRY: self._wire_append_entry,
            GET_ENTRIES: self._wire_get_entries,
            SEARCH: self._wire_search,
            STATUS: self._wire_status,
            GET_CONTEXT: self._wire_get_context,
            SUMMARIZE: self._wire_summarize,
        }
        assert tuple(self._handlers) == REQUESTS

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
            # Servers pay for a full quick_check once; a CLI verb only for the cheap probes.
            await self.store.open(thorough=self.watching)
        except StoreUnavailable as exc:
            log.error("%s", exc.message)
            self.notices.append((MESSAGE_ERROR, f"scribe-ls: {exc.message}"))
            self._opened = True
            return self
        self.notices.extend((MESSAGE_WARNING, f"scribe-ls: {notice}") for notice in self.store.notices)
        # Every open, not only when .scribe/ is new: something else (the log file) may have
        # created the directory first. It is one small read when the line is there.
        await asyncio.to_thread(git.exclude_scribe_dir, self.root)
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
        if self._relay:
            from . import watcher  # watchfiles is a server's cost, not a CLI verb's

            if self.store.read_only is None:
                await self.store.prune_changes()
            self._last_change = await self.store.last_change_id()
            self._data_version = await self.store.data_version()
            self._relay_task = asyncio.create_task(
                watcher.watch_store(self.store.dir, self.relay_changes, self._stop)
            )
        if self.watching and self.store.read_only is None:
            # After a crash (or another process's), a worklog may be behind the store.
            for key in await self.store.stale_worklog_keys():
                log.info("worklog %s is behind the store; rendering it", key)
                await self._render_key(key)
        if self._record and self.store.read_only is None:
            from .recorder import Recorder

            self.recorder = Recorder(self)
            self._recorder_task = asyncio.create_task(self.recorder.run(self._stop))

    async def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        self._stop.set()
        for task in (self._recorder_task, self._relay_task):
            if task is None:
                continue
            try:
                await asyncio.wait_for(task, 5)
            except TimeoutError:
                task.cancel()
            except Exception:
                log.exception("background task failed while closing")
        self._recorder_task = self._relay_task = None
        await self.store.close()
        await asyncio.to_thread(self.store.shutdown_thread)

    async def __aenter__(self) -> Scribe:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- notifications ----------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for every notification; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def subscribe(self, maxsize: int = SUBSCRIBER_QUEUE) -> Subscription:
        """Every notification from now on, as an async iterator (for agents).

        Listening starts when this is called, not at the first ``anext``, so nothing that
        happens in between is missed. Close it (or use ``async with``) when done.
        """
        return Subscription(self, maxsize)

    def emit(self, method: str, params: dict[str, Any], origin: str | None = None) -> None:
        self.generation += 1
        event = Notification(method, params, origin or self.origin)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken client must not stop the others hearing it
                log.exception("notification listener failed for %s", method)

    def warn(self, message: str, *, level: int = MESSAGE_WARNING) -> None:
        """A problem the user should see now (recording stopped, git gone): logged, and
        pushed to every client as ``window/showMessage``."""
        log.warning("%s", message)
        self.emit(SHOW_MESSAGE, {"type": level, "message": f"scribe-ls: {message}"})

    def _emit_session(self, session: Session, change: str) -> None:
        self.emit(SESSION_CHANGED, {"session": session.to_wire(), "change": change})

    def _emit_entries(self, entries: Sequence[Entry]) -> None:
        for entry in entries:
            self.emit(ENTRY_ADDED, {"entry": entry.to_wire()})

    async def relay_changes(self) -> None:
        """Tell listeners about changes other processes committed since the last call."""
        version = await self.store.data_version()
        if version == self._data_version:
            return  # only our own commits (or none): nothing foreign to relay
        self._data_version = version
        while changes := await self.store.changes_since(self._last_change):
            self._last_change = changes[-1].id
            foreign = [c for c in changes if c.origin != self.origin]
            entry_ids = [c.entry_id for c in foreign if c.entry_id is not None]
            entries = {e.id: e for e in await self.store.entries_by_id(entry_ids)}
            for change in foreign:
                if change.change in _PUSHES_WITH_PAYLOAD:
                    if change.payload:
                        self.emit(
                            _PUSHES_WITH_PAYLOAD[change.change], json.loads(change.payload), change.origin
                        )
                    continue
                if change.entry_id is not None:
                    if (entry := entries.get(change.entry_id)) is not None:
                        self.emit(ENTRY_ADDED, {"entry": entry.to_wire()}, change.origin)
                    continue
                try:
                    session = await self.store.get_session(change.session_id)
                except SessionNotFound:
                    continue
                self.emit(
                    SESSION_CHANGED, {"session": session.to_wire(), "change": change.change}, change.origin
                )

    async def _render(self, session: Session) -> None:
        await self._render_key(session.worklog_key)

    async def _render_key(self, key: str) -> None:
        try:
            await self.store.render_worklog(key)
        except OSError as exc:
            # The store already holds the data; a worklog that cannot be written now is
            # rendered again at the next server start (or by `scribe-ls validate --fix`).
            log.warning("could not write worklog %s: %s", key, exc)

    # -- sessions ---------------------------------------------------------------------------

    async def session_or_current(self, session_id: str | None) -> Session:
        """The named session, or the current one (error -32011 if there is none)."""
        session_id = checks.session_id(session_id)
        if session_id is not None:
            return await self.store.get_session(session_id)
        session = await self.store.current_session()
        if session is None:
            raise NoCurrentSession()
        return session

    async def current_session(self) -> Session | None:
        return await self.store.current_session()

    async def start_session(
        self,
        backlog_id: str | None = None,
        title: str | None = None,
        tags: Sequence[str] | None = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> Session:
        """Start a session, or return the open one for the same backlog item."""
        backlog_id = checks.backlog_id(backlog_id)
        title = checks.string(title, "title")
        tags = checks.tags(tags)
        type = checks.string(type, "type", max_len=64)
        priority = checks.string(priority, "priority", max_len=64)
        branch = await git.current_branch(self.root)
        backlog_id = backlog_id or backlog_id_from_branch(branch)
        # Secrets are redacted in everything stored: a branch or a title can hold one too.
        branch = redact(branch) if branch else branch
        result, entries = await self.store.start_session(
            backlog_id=backlog_id,
            title=redact(title or backlog_id or (f"Work on {branch}" if branch else "Untitled session")),
            branch=branch,
            tags=redact_all(tags),
            type=type or DEFAULT_TYPE,
            priority=priority or DEFAULT_PRIORITY,
            idle_timeout=self.config.idle_timeout,
            max_active=self.config.max_active_sessions,
            start_texts=("Session started", f"Branch: {branch}") if branch else ("Session started",),
        )
        if result.created or result.resumed:
            await self._render(result.session)
            self._emit_session(result.session, "started" if result.created else "resumed")
            self._emit_entries(entries)
        return result.session

    async def stop_session(
        self, session_id: str | None = None, *, reason: str = "Session stopped"
    ) -> Session:
        session = await self.session_or_current(session_id)
        stopped, entries = await self.store.stop_session(session.id, reason)
        if entries:
            await self._render(stopped)
            self._emit_session(stopped, "stopped")
            self._emit_entries(entries)
        return stopped

    async def update_session(
        self,
        session_id: str,
        *,
        status: str | None = None,
        title: str | None = None,
        add_tags: Sequence[str] | None = (),
        remove_tags: Sequence[str] | None = (),
    ) -> Session:
        session_id = checks.session_id(session_id, required=True)  # type: ignore[assignment]
        status = checks.string(status, "status", choices=("active", "paused"))
        title = checks.string(title, "title")
        session, changes, entries = await self.store.update_session(
            session_id,
            status=status,
            title=redact(title) if title else None,
            add_tags=redact_all(checks.tags(add_tags, "add_tags")),
            remove_tags=redact_all(checks.tags(remove_tags, "remove_tags")),
            max_active=self.config.max_active_sessions,
        )
        if entries:
            await self._render(session)
        for change in changes:
            self._emit_session(session, change)
        self._emit_entries(entries)
        return session

    async def branch_switched(self, old: str | None, new: str | None) -> Session | None:
        """Re-bind to the branch now checked out: the same (or no) backlog id keeps the
        current session on the new branch; another backlog id pauses the current session
        and starts or resumes that item's session."""
        new_id = backlog_id_from_branch(new)
        new = redact(new) if new else new
        current = await self.store.current_session()
        log.info("branch %s -> %s", old, new)
        if current is not None and (new_id is None or current.backlog_id == new_id):
            session, entries = await self.store.set_branch(current.id, new)
        else:
            if current is not None:
                await self.update_session(current.id, status="paused")
            if new_id is None:
                return None
            session = await self.start_session(new_id)
            if session.branch == new:  # just created on this branch: nothing to re-bind
                await self.store.note_change(session.id, "branchChanged")
                entries = []
            else:
                session, entries = await self.store.set_branch(session.id, new)
        await self._render(session)
        self._emit_session(session, "branchChanged")
        self._emit_entries(entries)
        return session

    async def pause_idle_sessions(self) -> list[Session]:
        """Pause active sessions idle past their timeout; activity resumes them."""
        paused = []
        now = utc_now()
        for idle in await self.store.idle_sessions(now, statuses=("active",)):
            result = await self.store.pause_idle(idle.id, "Idle timeout reached; pausing session", now)
            if result is None:
                continue
            session, entries = result
            await self._render(session)
            self._emit_session(session, "paused")
            self._emit_entries(entries)
            paused.append(session)
        return paused

    async def get_session(self, session_id: str) -> Session:
        return await self.store.get_session(checks.session_id(session_id, required=True))

    async def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int | None = 50,
    ) -> list[Session]:
        return await self.store.list_sessions(
            status=checks.string(status, "status", choices=SESSION_STATUSES),
            backlog_id=checks.backlog_id(backlog_id),
            tag=checks.string(tag, "tag", max_len=checks.MAX_TAG),
            limit=checks.integer(limit, "limit", low=1, high=checks.MAX_LIMIT, default=50),
        )

    async def cleanup(self) -> list[Session]:
        """Stop every open session idle for longer than its idle timeout."""
        stopped = []
        for session in await self.store.idle_sessions(utc_now()):
            stopped.append(
                await self.stop_session(session.id, reason="Idle timeout reached; stopping scribe")
            )
        return stopped

    # -- entries ----------------------------------------------------------------------------

    async def append_entry(
        self,
        text: str,
        kind: str = "note",
        session_id: str | None = None,
        files: Sequence[str] | None = (),
        *,
        stat_files: Sequence[str] = (),
        request_id: str | None = None,
    ) -> Entry:
        """Add an entry; it is durable when this returns. Secrets are redacted first.
        ``stat_files``: more paths that count as changed without being listed.
        ``request_id``: a client's id for this append; a retry with the same id returns the
        entry stored the first time instead of storing it again."""
        text = checks.text(text)
        kind = checks.kind(kind)
        files = checks.files(files)
        request_id = checks.request_id(request_id)
        session = await self.session_or_current(session_id)
        entry = await self.store.append_entry(
            session.id, kind, redact(text), redact_all(files), redact_all(stat_files), request_id=request_id
        )
        await self._render(session)
        self._emit_entries([entry])
        return entry

    async def note(self, text: str, kind: str = "note", *, files: Sequence[str] | None = ()) -> Entry:
        """Agent-friendly spelling of :meth:`append_entry` on the current session."""
        return await self.append_entry(text, kind=kind, files=files)

    async def get_entries(
        self,
        session_id: str,
        *,
        after_id: int | None = 0,
        limit: int | None = 100,
        kinds: Sequence[str] | None = (),
    ) -> tuple[list[Entry], int | None]:
        return await self.store.get_entries(
            checks.session_id(session_id, required=True),
            after_id=checks.integer(after_id, "after_id", low=0, high=2**62, default=0),
            limit=checks.integer(limit, "limit", low=1, high=checks.MAX_LIMIT, default=100),
            kinds=checks.kinds(kinds),
        )

    async def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        """The newest ``limit`` entries of a session, oldest first."""
        return await self.store.recent_entries(
            checks.session_id(session_id, required=True),
            checks.integer(limit, "limit", low=0, high=checks.MAX_LIMIT, default=10),
        )

    async def summary_counts(self, session_id: str) -> dict[str, Any]:
        """Counts and the latest decisions, ideas and todos of a session."""
        return await self.store.summary_counts(checks.session_id(session_id, required=True))

    async def overlapping_sessions(self, session_id: str | None) -> list[dict[str, Any]]:
        """Other active sessions, each with the files both it and this one touched."""
        return await self.store.overlapping_sessions(checks.session_id(session_id))

    async def search(self, query: str, limit: int | None = 20) -> list[dict[str, Any]]:
        query = checks.string(query, "query", max_len=1000, required=True)  # type: ignore[assignment]
        hits = await self.store.search(query, checks.integer(limit, "limit", low=1, high=200, default=20))
        return [{"entry": e.to_wire(), "backlogId": b, "snippet": s} for e, b, s in hits]

    @property
    def watching(self) -> bool:
        """True when this service hears about every change (it records or relays), so a
        cached context packet can be trusted until the next notification."""
        return self._relay or self._record

    async def context(
        self,
        session_id: str | None = None,
        *,
        sections: Sequence[str] | None = None,
        max_chars: int | None = 12000,
        format: str | None = "json",
    ) -> dict[str, Any]:
        """The context packet for a session (default: the current one), as
        ``scribe/getContext`` returns it."""
        from .context import ContextProvider, ContextRequest

        session_id = checks.session_id(session_id)
        chosen = checks.string_list(
            sections, "sections", max_items=len(CONTEXT_SECTIONS), max_len=16, choices=CONTEXT_SECTIONS
        )
        budget = checks.integer(max_chars, "max_chars", low=1000, high=1_000_000, default=12000)
        shape = checks.string(format, "format", choices=CONTEXT_FORMATS) or "json"
        if self._context is None:
            self._context = ContextProvider(self)
        request = ContextRequest(session_id, chosen or CONTEXT_SECTIONS, budget, shape)
        return await self._context.get(request)

    async def summarize(
        self, session_id: str | None = None, *, progress: Progress | None = None
    ) -> dict[str, Any]:
        """Summarize a session (default: the current one) with every other session of its
        backlog item, write ``.scribe/summaries/<key>-summary.md``, and tell listeners
        (``scribe/summaryReady``). Returns what ``scribe/summarize`` answers."""
        from .summarize import extract_summary, render_summary  # not on CLI start-up

        report = progress or (lambda message, percentage: None)
        session = await self.session_or_current(session_id)
        key = session.worklog_key
        report(f"Reading the entries of {key}", 10)
        sessions, entries = await self.store.sessions_and_entries(key)
        report("Reading the work tree", 50)
        try:
            uncommitted: list[str] | None = [
                f.path for f in (await git.status(self.root)).files if not f.path.startswith(".scribe/")
            ]
        except git.GitError:
            uncommitted = None  # not a repository, or git is missing: say nothing about it
        report("Writing the summary", 80)
        summary = extract_summary(key, sessions, entries, uncommitted)
        layout = self.store.layout
        path = layout.summary_path(key)
        relative = layout.relative(path)
        markdown = render_summary(summary, layout.relative(layout.worklog_path(key)), relative)
        try:
            await asyncio.to_thread(layout.write_atomic, path, markdown)
        except OSError as exc:  # read-only or full disk, or a planted link: the store's state
            raise StoreUnavailable(f"cannot write {relative}: {exc.strerror or exc}") from exc
        payload = {"sessionId": session.id, "path": str(path)}
        await self.store.publish("summary", session.id, json.dumps(payload))
        self.emit(SUMMARY_READY, payload)
        report(f"Summary written to {relative}", 100)
        return summary.to_wire(session.id, str(path), markdown)

    async def status(self) -> dict[str, Any]:
        """Answers even when the store cannot be used (``storeError`` says why)."""
        counts, current, store_error = {"active": 0, "total": 0, "paused": 0}, None, None
        try:
            counts = await self.store.counts()
            current = await self.store.current_session()
        except StoreUnavailable as exc:
            store_error = exc.message
        recorder = self.recorder
        return {
            "version": __version__,
            "root": str(self.root),
            "pid": os.getpid(),
            "uptimeSeconds": round(time.monotonic() - self._started, 3),
            "sessions": {"active": counts["active"], "total": counts["total"], "paused": counts["paused"]},
            "currentSessionId": current.id if current else None,
            # The session itself, so a client needs no getSession after status.
            "currentSession": current.to_wire() if current else None,
            "store": str(self.store.path),
            "storeError": store_error,
            "storeReadOnly": self.store.read_only is not None,
            "watcher": {
                "running": bool(recorder and recorder.running),
                "recorder": bool(recorder and recorder.holds_lease),
                "events": recorder.events if recorder else 0,
                "lastEventAt": recorder.last_event_at if recorder else None,
                "lastError": recorder.last_error if recorder else None,
                "restarts": recorder.restarts if recorder else 0,
            },
            # This status call itself is not waiting any more when it reads the count.
            "queue": {"pending": self.store.pending},
        }

    # -- legacy import ----------------------------------------------------------------------

    async def import_legacy(self, paths: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
        """Import legacy worklogs (``# Worklog B-123`` Markdown) and ``session_registry.json``
        files, or folders holding them, as completed sessions. Importing twice adds nothing."""
        worklogs, registry, skipped = await asyncio.to_thread(_read_legacy, paths)
        imported = []
        for backlog_id in sorted(set(worklogs) | set(registry)):
            items = worklogs.get(backlog_id, [])
            legacy = registry.get(backlog_id)
            started = items[0].at if items else legacy.start_time if legacy else None
            if started is None:
                skipped.append({"what": backlog_id, "why": "no start time in registry or worklog"})
                continue
            last = items[-1].at if items else (legacy.last_activity if legacy else None) or started
            session = await self.store.import_session(
                backlog_id=backlog_id,
                title=redact((legacy.description if legacy else None) or backlog_id),
                tags=redact_all(legacy.tags) if legacy else (),
                type=(legacy.session_type if legacy else None) or DEFAULT_TYPE,
                priority=(legacy.priority if legacy else None) or DEFAULT_PRIORITY,
                idle_timeout=(legacy.idle_timeout if legacy else None) or self.config.idle_timeout,
                items=items,
                started_at=iso(started),
                last_activity_at=iso(last),
                redact=redact,
            )
            if session is None:
                skipped.append({"what": backlog_id, "why": "already imported"})
                continue
            await self._render(session)
            imported.append({"backlogId": backlog_id, "sessionId": session.id, "entries": len(items)})
        return {"imported": imported, "skipped": skipped}

    # -- JSON-RPC dispatch ------------------------------------------------------------------

    async def handle(self, method: str, params: Any, progress: Progress | None = None) -> Any:
        """Answer one request: map the wire's names to the API's, call it, return the JSON
        result. The API checks every value; an error names the field as the client sent it.

        Raises :class:`ScribeError` (with its JSON-RPC code) for anything the client did
        wrong or that cannot be done. ``progress`` hears how far a long request got.
        """
        handler = self._handlers.get(method)
        if handler is None:
            raise ScribeError(METHOD_NOT_FOUND, f"method not found: {method}")
        try:
            return await handler(params_object(params), progress)
        except InvalidParams as exc:
            raise on_wire(exc) from None

    async def _wire_start_session(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        session = await self.start_session(
            p.get("backlogId"), p.get("title"), p.get("tags"), p.get("type"), p.get("priority")
        )
        return session.to_wire()

    async def _wire_stop_session(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        return (await self.stop_session(p.get("sessionId"))).to_wire()

    async def _wire_update_session(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        session = await self.update_session(
            p.get("sessionId"),
            status=p.get("status"),
            title=p.get("title"),
            add_tags=p.get("addTags"),
            remove_tags=p.get("removeTags"),
        )
        return session.to_wire()

    async def _wire_get_session(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        return (await self.get_session(p.get("sessionId"))).to_wire()  # type: ignore[arg-type]

    async def _wire_list_sessions(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        sessions = await self.list_sessions(
            status=p.get("status"), backlog_id=p.get("backlogId"), tag=p.get("tag"), limit=p.get("limit")
        )
        return {"sessions": [s.to_wire() for s in sessions]}

    async def _wire_append_entry(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        entry = await self.append_entry(
            p.get("text"),  # type: ignore[arg-type]
            p.get("kind"),  # type: ignore[arg-type]
            p.get("sessionId"),
            p.get("files"),
            request_id=p.get("requestId"),
        )
        return entry.to_wire()

    async def _wire_get_entries(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        entries, next_after = await self.get_entries(
            p.get("sessionId"),  # type: ignore[arg-type]
            after_id=p.get("afterId"),
            limit=p.get("limit"),
            kinds=p.get("kinds"),
        )
        return {"entries": [e.to_wire() for e in entries], "nextAfterId": next_after}

    async def _wire_search(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        return {"hits": await self.search(p.get("query"), p.get("limit"))}  # type: ignore[arg-type]

    async def _wire_get_context(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        return await self.context(
            p.get("sessionId"),
            sections=p.get("sections"),
            max_chars=p.get("maxChars"),
            format=p.get("format"),
        )

    async def _wire_status(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        return await self.status()

    async def _wire_summarize(self, p: Mapping[str, Any], progress: Progress | None) -> Any:
        work_done_token(p)  # checked here; the server reports the progress
        return await self.summarize(p.get("sessionId"), progress=progress)


def _read_legacy(
    paths: Sequence[Path],
) -> tuple[dict[str, list[worklog.WorklogItem]], dict[str, worklog.LegacySession], list[dict[str, Any]]]:
    """Blocking: find and parse legacy files (runs in a worker thread)."""
    worklogs: dict[str, list[worklog.WorklogItem]] = {}
    registry: dict[str, worklog.LegacySession] = {}
    skipped: list[dict[str, Any]] = []
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".md", ".json") and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            skipped.append({"what": str(path), "why": "no such file or directory"})
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                if path.name == "session_registry.json" or '"sessions"' in text:
                    for legacy in worklog.read_registry(text):
                        if BACKLOG_ID_RE.fullmatch(legacy.backlog_id):
                            registry[legacy.backlog_id] = legacy
                continue
            if not text.startswith("# Worklog "):
                continue  # summaries and other Markdown are not worklogs
            parsed = worklog.parse(text)
            if not BACKLOG_ID_RE.fullmatch(parsed.key):
                skipped.append({"what": str(path), "why": f"worklog key {parsed.key!r} is not a backlog id"})
                continue
            worklogs.setdefault(parsed.key, []).extend(parsed.items)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            skipped.append({"what": str(path), "why": f"unreadable: {exc}"})
    return worklogs, registry, skipped
