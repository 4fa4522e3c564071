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
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import git, worklog
from ._version import __version__
from .config import Config, load_config
from .layout import find_repo_root
from .protocol import (
    ACTIVITY,
    APPEND_ENTRY,
    BACKLOG_ID_RE,
    ENTRY_ADDED,
    GET_CONTEXT,
    GET_ENTRIES,
    GET_SESSION,
    LIST_SESSIONS,
    METHOD_NOT_FOUND,
    REQUESTS,
    SEARCH,
    SESSION_CHANGED,
    START_SESSION,
    STATUS,
    STOP_SESSION,
    SUMMARIZE,
    SUMMARY_READY,
    UPDATE_SESSION,
    AppendEntryParams,
    Entry,
    GetContextParams,
    GetEntriesParams,
    ListSessionsParams,
    NoCurrentSession,
    NoParams,
    Notification,
    ScribeError,
    SearchParams,
    Session,
    SessionNotFound,
    SessionRef,
    StartSessionParams,
    StoreUnavailable,
    SummarizeParams,
    UpdateSessionParams,
    backlog_id_from_branch,
    iso,
    params_object,
    required_session_id,
    utc_now,
)
from .redact import redact
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
        self.dropped = 0
        self._remove = scribe.add_listener(self._put)

    def _put(self, event: Notification) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
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
        if self._opened:
            return self
        for warning in self.config.warnings:
            log.warning("config: %s", warning)
        await self.store.open()
        # Every open, not only when .scribe/ is new: something else (the log file) may have
        # created the directory first. It is one small read when the line is there.
        await asyncio.to_thread(git.exclude_scribe_dir, self.root)
        self._opened = True
        if self._relay:
            from . import watcher  # watchfiles is a server's cost, not a CLI verb's

            await self.store.prune_changes()
            self._last_change = await self.store.last_change_id()
            self._data_version = await self.store.data_version()
            self._relay_task = asyncio.create_task(
                watcher.watch_store(self.store.dir, self.relay_changes, self._stop)
            )
        if self._record:
            from .recorder import Recorder

            self.recorder = Recorder(self)
            self._recorder_task = asyncio.create_task(self.recorder.run(self._stop))
        return self

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
        try:
            await self.store.render_worklog(session.worklog_key)
        except OSError as exc:
            # The store already holds the data; a worklog that cannot be written is
            # regenerated by `scribe-ls validate --fix`.
            log.warning("could not write worklog %s: %s", session.worklog_key, exc)

    # -- sessions ---------------------------------------------------------------------------

    async def session_or_current(self, session_id: str | None) -> Session:
        """The named session, or the current one (error -32011 if there is none)."""
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
        tags: Sequence[str] = (),
        type: str | None = None,
        priority: str | None = None,
    ) -> Session:
        """Start a session, or return the open one for the same backlog item."""
        branch = await git.current_branch(self.root)
        backlog_id = backlog_id or backlog_id_from_branch(branch)
        result, entries = await self.store.start_session(
            backlog_id=backlog_id,
            title=title or backlog_id or (f"Work on {branch}" if branch else "Untitled session"),
            branch=branch,
            tags=tags,
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
        add_tags: Sequence[str] = (),
        remove_tags: Sequence[str] = (),
    ) -> Session:
        session, changes, entries = await self.store.update_session(
            session_id,
            status=status,
            title=title,
            add_tags=add_tags,
            remove_tags=remove_tags,
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
        return await self.store.get_session(session_id)

    async def list_sessions(
        self,
        *,
        status: str | None = None,
        backlog_id: str | None = None,
        tag: str | None = None,
        limit: int = 50,
    ) -> list[Session]:
        return await self.store.list_sessions(status=status, backlog_id=backlog_id, tag=tag, limit=limit)

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
        files: Sequence[str] = (),
        *,
        stat_files: Sequence[str] = (),
    ) -> Entry:
        """Add an entry; it is durable when this returns. Secrets are redacted first.
        ``stat_files``: more paths that count as changed without being listed."""
        session = await self.session_or_current(session_id)
        entry = await self.store.append_entry(session.id, kind, redact(text), files, stat_files)
        await self._render(session)
        self._emit_entries([entry])
        return entry

    async def note(self, text: str, kind: str = "note", *, files: Sequence[str] = ()) -> Entry:
        """Agent-friendly spelling of :meth:`append_entry` on the current session."""
        return await self.append_entry(text, kind=kind, files=files)

    async def get_entries(
        self, session_id: str, *, after_id: int = 0, limit: int = 100, kinds: Sequence[str] = ()
    ) -> tuple[list[Entry], int | None]:
        return await self.store.get_entries(session_id, after_id=after_id, limit=limit, kinds=kinds)

    async def recent_entries(self, session_id: str, limit: int) -> list[Entry]:
        """The newest ``limit`` entries of a session, oldest first."""
        return await self.store.recent_entries(session_id, limit)

    async def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        hits = await self.store.search(query, limit)
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
        max_chars: int = 12000,
        format: str = "json",
    ) -> dict[str, Any]:
        """The context packet for a session (default: the current one), as
        ``scribe/getContext`` returns it."""
        from .context import ContextProvider, ContextRequest
        from .protocol import CONTEXT_SECTIONS

        if self._context is None:
            self._context = ContextProvider(self)
        request = ContextRequest(session_id, tuple(sections or CONTEXT_SECTIONS), max_chars, format)
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
        counts = await self.store.counts()
        current = await self.store.current_session()
        recorder = self.recorder
        return {
            "version": __version__,
            "root": str(self.root),
            "pid": os.getpid(),
            "uptimeSeconds": round(time.monotonic() - self._started, 3),
            "sessions": {"active": counts["active"], "total": counts["total"], "paused": counts["paused"]},
            "currentSessionId": current.id if current else None,
            "store": str(self.store.path),
            "watcher": {
                "running": bool(recorder and recorder.running),
                "recorder": bool(recorder and recorder.holds_lease),
                "events": recorder.events if recorder else 0,
                "lastEventAt": recorder.last_event_at if recorder else None,
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
                title=(legacy.description if legacy else None) or backlog_id,
                tags=legacy.tags if legacy else (),
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

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    async def handle(self, method: str, params: Any, progress: Progress | None = None) -> Any:
        """Answer one request: check params, call the API, return the JSON result.

        Raises :class:`ScribeError` (with its JSON-RPC code) for anything the client did
        wrong or that cannot be done. ``progress`` hears how far a long request got.
        """
        handler = self._handlers.get(method)
        if handler is None:
            raise ScribeError(METHOD_NOT_FOUND, f"method not found: {method}")
        return await handler(params, progress)

    async def _wire_start_session(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = StartSessionParams.from_wire(raw)
        session = await self.start_session(p.backlog_id, p.title, p.tags, p.type, p.priority)
        return session.to_wire()

    async def _wire_stop_session(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        return (await self.stop_session(SessionRef.optional(raw).session_id)).to_wire()

    async def _wire_update_session(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = UpdateSessionParams.from_wire(raw)
        session = await self.update_session(
            p.session_id, status=p.status, title=p.title, add_tags=p.add_tags, remove_tags=p.remove_tags
        )
        return session.to_wire()

    async def _wire_get_session(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        return (await self.get_session(required_session_id(params_object(raw)))).to_wire()

    async def _wire_list_sessions(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = ListSessionsParams.from_wire(raw)
        sessions = await self.list_sessions(
            status=p.status, backlog_id=p.backlog_id, tag=p.tag, limit=p.limit
        )
        return {"sessions": [s.to_wire() for s in sessions]}

    async def _wire_append_entry(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = AppendEntryParams.from_wire(raw)
        return (await self.append_entry(p.text, p.kind, p.session_id, p.files)).to_wire()

    async def _wire_get_entries(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = GetEntriesParams.from_wire(raw)
        entries, next_after = await self.get_entries(
            p.session_id, after_id=p.after_id, limit=p.limit, kinds=p.kinds
        )
        return {"entries": [e.to_wire() for e in entries], "nextAfterId": next_after}

    async def _wire_search(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = SearchParams.from_wire(raw)
        return {"hits": await self.search(p.query, p.limit)}

    async def _wire_get_context(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        p = GetContextParams.from_wire(raw)
        return await self.context(p.session_id, sections=p.sections, max_chars=p.max_chars, format=p.format)

    async def _wire_status(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        NoParams.from_wire(raw)
        return await self.status()

    async def _wire_summarize(self, raw: Any, progress: Progress | None = None) -> dict[str, Any]:
        return await self.summarize(SummarizeParams.from_wire(raw).session_id, progress=progress)


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
