"""Recording: work-tree activity, branch switches, commits and idle time, for one root.

Runs only in the process holding the recorder lease (see ``lease.py``), with the sharing
loop (``team_sync.py``); every other process hears of the same through the change feed.

Bounded by design: a burst of changes becomes at most one ``scribe/activity`` push per
``PUSH_INTERVAL`` (listing at most ``MAX_NOTIFIED_FILES`` paths plus a count) and at most one
``activity`` entry per ``activity_window`` (ten paths, then ``(+N more)``), and the set of
paths waiting for the next entry is capped: ``npm install`` cannot flood client, store or memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ..config import Config
from ..core.events import ACTIVITY, OVERLAP
from ..errors import ScribeError
from ..git import commands as git
from ..git import files as gitfiles
from ..metrics import METRICS
from ..model import Entry, Session, iso, utc_now
from ..redact import redact
from ..store.threaded import AsyncStore
from .attribution import AgentPaths
from .ignore import IgnoreRules, TreeFilter
from .lease import RecorderLease
from .team_sync import TeamSync
from .watch import FileChange, TreeBatch, undecodable_path, watch_tree


class RecordingTarget(Protocol):
    """The session operations recording needs (the service provides them): it reads the
    store, writes through these so listeners and worklogs follow, and reports problems."""

    root: Path
    config: Config
    store: AsyncStore

    def emit(self, method: str, params: dict[str, Any], origin: str | None = None) -> None: ...

    def warn(self, message: str, *, level: int = ...) -> None: ...

    async def append_entry(
        self,
        text: str,
        kind: str = ...,
        session_id: str | None = ...,
        files: Sequence[str] | None = ...,
        *,
        stat_files: Sequence[str] = ...,
        request_id: str | None = ...,
        author: str | None = ...,
    ) -> Entry: ...

    async def update_session(self, session_id: str, *, status: str | None = ...) -> Session: ...

    async def current_session(self) -> Session | None: ...

    async def get_session(self, session_id: str) -> Session: ...

    async def session_for_activity(self) -> Session | None: ...

    async def follow_branch(self) -> Session | None: ...

    async def pause_idle_sessions(self) -> list[Session]: ...

    async def reload_config(self) -> Config: ...

    async def stop_session(self, session_id: str | None = ..., *, reason: str = ...) -> Session: ...

    def add_listener(self, listener: Callable[[Any], None]) -> Callable[[], None]: ...


log = logging.getLogger(__name__)

MAX_NOTIFIED_FILES = 100
PUSH_INTERVAL = 0.1  # at most ten scribe/activity pushes a second, however long a burst
MAX_ENTRY_FILES = 10
MAX_PENDING_PATHS = 50_000
MAX_COMMIT_FILES = 200
# A watcher that ran this long before failing starts again at once; failures in a row wait
# longer each time, up to the maximum.
RESTART_RESET = 60.0
MAX_RESTART_BACKOFF = 30.0
OVERLAP_EVERY = 1.0  # seconds between overlap checks: changed paths wait and are checked together
MAX_OVERLAP_TOLD = 10_000  # (other session, path) pairs already told, before starting over
MAX_OVERLAP_PATHS = 500  # paths waiting for one overlap check, per session


class Recorder:
    def __init__(self, scribe: RecordingTarget) -> None:
        self.scribe = scribe
        self.store = scribe.store
        self.root = scribe.root
        self.running = False
        self.holds_lease = False
        self.events = 0
        self.last_event_at: str | None = None
        self.last_error: str | None = None
        self.restarts = 0
        self._lease = RecorderLease(self.store.layout)
        self._pending: dict[str, None] = {}  # paths waiting for the next activity entry
        self._pending_total = 0
        self._pending_session: str | None = None  # whose they are: the session at the save
        self._flush_task: asyncio.Task[None] | None = None
        # scribe/activity pushes waiting for the next PUSH_INTERVAL slot.
        self._unpushed: dict[str, FileChange] = {}
        self._unpushed_count = 0
        self._push_session: str | None = None
        self._push_task: asyncio.Task[None] | None = None
        self._last_push = float("-inf")
        self._branch: str | None = None
        self._head: str | None = None
        self._ahead: int | None = None  # commits not pushed, as last seen (stop_on_push)
        # Set when the settings change: the idle timer starts over with the new timeout.
        self._config_changed = asyncio.Event()
        # Overlap checks: paths waiting (by session), the check due, what was told already.
        self._overlap_paths: dict[str, dict[str, None]] = {}
        self._overlap_task: asyncio.Task[None] | None = None
        self._overlaps_told: set[tuple[str, str, str]] = set()
        self.agent_paths = AgentPaths()  # files a coding agent's hook said it wrote
        self.team_sync = TeamSync(scribe)  # sharing through the git remote, when it is on
        self._resolved_root = self.root.resolve()  # overlaps name roots resolved
        # Set once a save is sure to be seen (the watch armed), or once waiting for that is
        # pointless (another process records, or recording could not start).
        self.ready = asyncio.Event()

    def config_changed(self) -> None:
        self._config_changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the lease, then record until ``stop`` is set."""
        try:
            try:
                acquired = self._lease.try_acquire()
            except OSError as exc:  # a planted recorder.lock, an unwritable .scribe/
                self.last_error = f"recorder lease: {exc}"
                self.scribe.warn(f"not recording this repository: {exc}")
                return
            if not acquired:
                self.ready.set()  # the holder records (and was armed when it answered)
                log.info("another process records %s; waiting to take over", self.root)
                waiter = asyncio.ensure_future(self._lease.wait_acquire())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                if not waiter.done():
                    waiter.cancel()
                    return
            self.holds_lease = True
            log.info("recording %s", self.root)
            # Overlaps a sibling worktree already told this root's clients (relayed from
            # its change feed) are not told again by this recorder's own checks.
            unlisten = self.scribe.add_listener(self._heard_overlap)
            unlisten_agents = self.scribe.add_listener(self.agent_paths.heard)
            try:
                await self._record(stop)
            finally:
                unlisten()
                unlisten_agents()
        finally:
            self.ready.set()
            self.running = False
            if self._overlap_task is not None:
                self._overlap_task.cancel()  # the store may close next: no late check
                self._overlap_task = None
            if self._push_task is not None:
                self._push_task.cancel()
                self._push_task = None
            await self._send_push()
            await self._flush()
            self._lease.release()
            self.holds_lease = False

    async def _record(self, stop: asyncio.Event) -> None:
        dirs = await asyncio.to_thread(gitfiles.find_git_dirs, self.root)
        self._branch = await git.current_branch(self.root)
        self._head = await asyncio.to_thread(gitfiles.read_head_sha, self.root)
        # A switch made while nothing recorded (the CLI did not run since) applies now.
        await self.scribe.follow_branch()
        if self.scribe.config.stop_on_push:
            await self._stop_if_pushed()
        rules = IgnoreRules(self.root, dirs, self.scribe.config.excludes)
        tree_filter = TreeFilter(self.root, dirs, rules, self.store.layout.dir)
        # A linked worktree keeps HEAD and refs outside the work tree: watch them too.
        extra = {
            d for d in ((dirs.git_dir, dirs.common_dir) if dirs else ()) if not d.is_relative_to(self.root)
        }
        idle = asyncio.ensure_future(self._idle_loop(stop))
        team = asyncio.ensure_future(self.team_sync.run(stop))
        try:
            await self._watch_until_stopped(tree_filter, sorted(extra), stop)
        finally:
            idle.cancel()
            team.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await idle

    async def _watch_until_stopped(
        self, tree_filter: TreeFilter, extra: list[Path], stop: asyncio.Event
    ) -> None:
        """Run the watcher; when it fails, say so and start it again (at once the first
        time, then with a growing pause while it keeps failing), so one odd file or a
        passing fault never ends recording."""
        backoff = 0.0
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            self.running = True
            try:
                config = self.scribe.config
                poll = config.poll_interval if config.watch == "poll" else None
                await watch_tree(
                    self.root,
                    tree_filter,
                    self._on_batch,
                    stop,
                    watch_paths=extra,
                    poll_interval=poll,
                    on_armed=self.ready.set,
                )
                return
            except Exception as exc:
                self.running = False
                self.restarts += 1
                # watchfiles wraps its errors in a task group's ExceptionGroup: say the cause.
                cause = exc.exceptions[0] if isinstance(exc, BaseExceptionGroup) else exc
                self.last_error = f"{type(cause).__name__}: {cause}"[:500]
                await self._record_undecodable(tree_filter, exc)
                if asyncio.get_running_loop().time() - started > RESTART_RESET:
                    backoff = 0.0
                self.scribe.warn(f"the file watcher failed ({self.last_error}); restarting it")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(MAX_RESTART_BACKOFF, max(0.5, backoff * 2))

    async def _record_undecodable(self, tree_filter: TreeFilter, exc: BaseException) -> None:
        """A file name that is not UTF-8 fails watchfiles' whole batch but is named in the
        error: record it, escaped, like any other change."""
        errors = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
        for error in errors:
            path = undecodable_path(error)
            if path is not None and (rel := tree_filter.relative(path)) is not None:
                await self.record_changes((FileChange(rel, "modified"),))

    async def _on_batch(self, batch: TreeBatch) -> None:
        if any(change.path == "pyproject.toml" for change in batch.files):
            await self.scribe.reload_config()  # [tool.scribe] may have changed
        if batch.files:
            await self.record_changes(batch.files)
            if batch.saved_at is not None:  # pushed now (or merged into the next 100 ms)
                METRICS.observe("save_to_push", max(0.0, (time.time() - batch.saved_at) * 1000))
        if batch.git_moved:
            await self._git_moved()

    # -- activity ---------------------------------------------------------------------------

    async def record_changes(self, files: tuple[FileChange, ...]) -> None:
        now = iso(utc_now())
        self.events += len(files)
        self.last_event_at = now
        session = await self.scribe.session_for_activity()
        await self._push(session.id if session else None, files)
        if session is None:
            return
        if self._pending and self._pending_session != session.id:
            await self._flush()  # another session's saves: theirs, not this one's
        self._pending_session = session.id
        self._check_overlaps_later(session.id, [change.path for change in files])
        for change in files:
            if change.path not in self._pending:
                self._pending_total += 1
                if len(self._pending) < MAX_PENDING_PATHS:
                    self._pending[change.path] = None
        if self._flush_task is None:
            self._flush_task = asyncio.ensure_future(self._flush_later())

    def _heard_overlap(self, notification: Any) -> None:
        if notification.method == OVERLAP:
            params = notification.params
            other = params["otherSession"]["id"]
            self._overlaps_told.update((params["sessionId"], other, path) for path in params["files"])

    def _check_overlaps_later(self, session_id: str, paths: list[str]) -> None:
        waiting = self._overlap_paths.setdefault(session_id, {})
        for path in paths[:MAX_NOTIFIED_FILES]:
            if len(waiting) >= MAX_OVERLAP_PATHS:
                break  # a storm: the first paths are checked, the rest wait for later saves
            waiting[path] = None
        if self._overlap_task is None:
            self._overlap_task = asyncio.ensure_future(self._check_overlaps())

    async def _check_overlaps(self) -> None:
        """Tell clients, once per other session and file, that a file this session touched
        was changed by another open session too (scribe_ls/core/overlaps.py)."""
        from ..core.overlaps import find_overlaps, tell_sibling

        store = self.scribe.store
        try:
            await asyncio.sleep(OVERLAP_EVERY)
            waiting, self._overlap_paths = self._overlap_paths, {}
            for session_id, paths in waiting.items():
                changed = await self._really_changed(list(paths))
                if not changed:
                    continue
                session = await self.scribe.get_session(session_id)
                # Other open sessions (this root's, or a linked worktree's) that touched them.
                for overlap in await store.run(find_overlaps, store.sync, session, changed):
                    other = overlap["otherSession"]
                    fresh = [
                        f for f in overlap["files"] if (session_id, other["id"], f) not in self._overlaps_told
                    ]
                    if not fresh:
                        continue
                    if len(self._overlaps_told) > MAX_OVERLAP_TOLD:
                        self._overlaps_told.clear()
                    self._overlaps_told.update((session_id, other["id"], f) for f in fresh)
                    told = {**overlap, "files": fresh}
                    self.scribe.emit(OVERLAP, told)
                    if Path(other["root"]) != self._resolved_root:
                        # The mirror image, to the linked worktree it involves.
                        await store.run(tell_sibling, store.sync, session, told)
        except Exception:  # an overlap check never stops recording
            log.exception("checking overlaps failed")
        finally:
            self._overlap_task = None
            if self._overlap_paths and self.running:  # not after the recorder stopped
                self._overlap_task = asyncio.ensure_future(self._check_overlaps())

    async def _push(self, session_id: str | None, files: tuple[FileChange, ...]) -> None:
        """Push at once if the last push is older than PUSH_INTERVAL; otherwise merge into
        one push at the end of the interval. A lone save reaches clients in milliseconds; a
        burst of any length costs at most ten pushes a second."""
        for change in files:
            if change.path in self._unpushed or len(self._unpushed) < MAX_NOTIFIED_FILES:
                self._unpushed[change.path] = change
        self._unpushed_count += len(files)
        self._push_session = session_id
        if self._push_task is not None:
            METRICS.add("pushes_merged")
            return  # a push is already scheduled and will carry these
        wait = self._last_push + PUSH_INTERVAL - asyncio.get_running_loop().time()
        if wait <= 0:
            await self._send_push()
        else:
            self._push_task = asyncio.ensure_future(self._push_later(wait))

    async def _push_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._push_task = None
        await self._send_push()

    async def _send_push(self) -> None:
        if not self._unpushed:
            return
        payload: dict[str, Any] = {
            "sessionId": self._push_session,
            "at": iso(utc_now()),
            # A file's name can hold a secret too (`password=hunter2.txt`).
            "files": [{"path": redact(f.path), "change": f.change} for f in self._unpushed.values()],
            "count": self._unpushed_count,
        }
        self._unpushed, self._unpushed_count = {}, 0
        self._last_push = asyncio.get_running_loop().time()
        self.scribe.emit(ACTIVITY, payload)
        METRICS.add("pushes_sent")
        await self.store.publish("activity", payload["sessionId"], json.dumps(payload))

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.scribe.config.activity_window)
        self._flush_task = None
        try:
            await self._flush()
        except ScribeError as exc:
            # Said in the log, never a task exception nobody reads (the store's own
            # errors, full disk and the like, are what can still end up here).
            log.warning("activity entry not written in %s: %s", self.root, exc)

    async def _flush(self) -> None:
        """Write the waiting paths as one legacy-style ``Changes: N file(s)`` entry."""
        if self._flush_task is not None:
            self._flush_task.cancel()
            self._flush_task = None
        if not self._pending:
            return
        paths, total, session_id = list(self._pending), self._pending_total, self._pending_session
        self._pending, self._pending_total = {}, 0
        if session_id is None or (await self.scribe.get_session(session_id)).status == "completed":
            return  # stopped meanwhile: its worklog ends with "Session stopped"
        kept = await self._really_changed(paths)
        total -= len(paths) - len(kept)  # the paths past the cap are counted as they were
        paths = kept
        if not paths:
            return  # git put back what it rewrote, a temporary file came and went: no work
        # The session the saves happened in, even when a branch switch made another current
        # since; the files an agent's hook said it wrote are its own (and said, with the
        # person's changes of them too).
        person, agents, both = self.agent_paths.split(paths)
        for overlap in both:
            self.scribe.warn(overlap)
        for author, written in agents.items():
            await self._activity(session_id, len(written), written, author)
        if person:
            await self._activity(session_id, total - (len(paths) - len(person)), person, None)

    async def _activity(self, session_id: str, total: int, paths: list[str], author: str | None) -> None:
        text, shown = f"Changes: {total} file(s)", paths[:MAX_ENTRY_FILES]
        await self.scribe.append_entry(text, "activity", session_id, shown, stat_files=paths, author=author)

    async def _really_changed(self, paths: list[str]) -> list[str]:
        """The paths among ``paths`` that git sees as changed: only those are the session's
        work. A file git rewrote while checking out, merging, rebasing, resetting or
        stashing is back to what git has; a temporary file (``sed -i``, ``mkstemp``) is
        gone by now; a directory is not listed by git at all. Where git cannot tell (not
        a repository, git missing), every path is kept."""
        try:
            changed = await git.changed_among(self.root, paths)
        except git.GitError:
            return paths
        return [path for path in paths if path in changed]

    # -- git --------------------------------------------------------------------------------

    async def _git_moved(self) -> None:
        self.team_sync.poke()  # a push moves the remote-tracking refs: share after it
        await self._record_git_move()
        if self.scribe.config.stop_on_push:
            await self._stop_if_pushed()

    async def _stop_if_pushed(self) -> None:
        """The legacy rule: once a push takes the remote branch to a clean local HEAD (it
        was ahead, now it is not, nothing uncommitted), the session is done."""
        try:
            status = await git.status(self.root)
        except git.GitError:
            return
        ahead, self._ahead = self._ahead, status.ahead
        dirty = [f for f in status.files if not f.path.startswith(".scribe/")]
        if not status.upstream or ahead is None or ahead == 0 or status.ahead or status.behind or dirty:
            return
        session = await self.scribe.current_session()
        if session is not None:
            await self.scribe.stop_session(
                session.id, reason="Remote is up-to-date with local; stopping scribe after push"
            )

    async def _record_git_move(self) -> None:
        branch = await git.current_branch(self.root)
        head = await asyncio.to_thread(gitfiles.read_head_sha, self.root)
        if branch != self._branch:
            self._branch, self._head = branch, head
            await self._flush()  # the changes so far belong to the old branch's session
            await self.scribe.follow_branch()
            return
        if head is None or head == self._head:
            return
        self._head = head
        # A commit belongs to the item checked out, also while its session is paused.
        session = await self.scribe.current_session()
        if session is None:
            return
        try:
            subject, files = await git.commit_summary(self.root, head)
        except git.GitError as exc:
            # Said to the user, not only logged: git gone (or broken) mid-session means
            # commits are no longer recorded.
            self.last_error = f"git: {exc}"
            self.scribe.warn(f"cannot record commit {head[:12]}: {exc}")
            return
        await self.scribe.append_entry(
            f"{head[:7]} {subject}", kind="commit", session_id=session.id, files=files[:MAX_COMMIT_FILES]
        )

    # -- idle -------------------------------------------------------------------------------

    async def _idle_loop(self, stop: asyncio.Event) -> None:
        # A timer, not a poll of anything: checks at a quarter of the timeout (1 s..60 s).
        # It also keeps the change feed short: other processes only need its recent rows.
        while not stop.is_set():
            interval = max(1.0, min(60.0, self.scribe.config.idle_timeout / 4))
            self._config_changed.clear()
            waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._config_changed.wait())}
            try:
                await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            if not stop.is_set():
                try:
                    await self.scribe.pause_idle_sessions()
                    await self.store.prune_changes()
                except Exception:
                    log.exception("idle check failed")
