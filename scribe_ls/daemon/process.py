"""The background recorder: one asyncio process per user that records every root with an
open session, so a developer who only uses the CLI gets activity, commits, branch
following and active time, as the legacy ``scribe start`` daemon gave them.

Each root is a :class:`~scribe_ls.core.service.Scribe` with ``record=True``: it takes the
root's recorder lease, so an editor's server on the same root relays instead of
recording twice (and takes over at once if the daemon dies). A root is let go when its
last open session stops (heard through the change feed, whoever stopped it); the daemon
exits after ``idle_exit`` seconds without roots. One daemon per user: a lock in the
runtime directory; a second one hands its roots to the first and exits.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from ..core.events import SESSION_CHANGED, Notification
from ..core.service import Scribe
from ..metrics import snapshot
from ..store.layout import find_repo_root
from ..userdirs import ensure_private_dir, prepare_socket_dir
from . import client as control

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 64 * 1024
DEFAULT_MAX_ROOTS = 16
DEFAULT_IDLE_EXIT = 300.0
CLOSE_TIMEOUT = 10.0


class Refused(Exception):
    """A request the daemon will not do; the message says why."""


class Daemon:
    def __init__(self, *, max_roots: int = DEFAULT_MAX_ROOTS, idle_exit: float = DEFAULT_IDLE_EXIT) -> None:
        self.max_roots = max_roots
        self.idle_exit = idle_exit
        self.roots: dict[Path, Scribe] = {}
        self.started = time.monotonic()
        self.idle_since = time.monotonic()
        self.last_error: str | None = None
        self.stop = asyncio.Event()
        # (monotonic time, events recorded so far) once a second: events/s over 10 s.
        self._samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=11)
        self._events_let_go = 0  # events of roots no longer recorded here
        self._checks: set[asyncio.Task[None]] = set()
        self._arming: dict[Path, asyncio.Future[None]] = {}  # roots being set up now

    # -- roots ------------------------------------------------------------------------------

    async def watch(self, root: Any) -> dict[str, Any]:
        """Record ``root`` (from a request: anything; an absolute path is required)."""
        if not isinstance(root, str) or not root or "\0" in root or not os.path.isabs(root):
            raise Refused("root: an absolute path is required")
        path = find_repo_root(Path(root))
        if not path.is_dir():
            raise Refused(f"root: {path} is not a directory")
        if path in self.roots:
            return {"root": str(path), "watching": True, "new": False}
        if path in self._arming:  # being set up for another request: answer when it is armed
            await asyncio.shield(self._arming[path])
            return {"root": str(path), "watching": True, "new": False}
        if len(self.roots) + len(self._arming) >= self.max_roots:
            raise Refused(
                f"already recording {len(self.roots)} roots, the most this daemon records "
                f"(--max-roots {self.max_roots}); stop sessions elsewhere or raise it"
            )
        armed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arming[path] = armed
        try:
            scribe = Scribe(path, relay=True, record=True, daemon=False)
            await scribe.open()
            # Answered once the watch is armed: `scribe-ls start` returns after this, and a
            # save right after it must be seen.
            await scribe.recording_ready()
        finally:
            del self._arming[path]
            armed.set_result(None)
        self.roots[path] = scribe
        scribe.add_listener(lambda notification: self._heard(path, notification))
        log.info("recording %s", path)
        self._schedule_check(path)  # handed a root whose session already stopped: let it go
        return {"root": str(path), "watching": True, "new": True}

    async def unwatch(self, root: str | Path) -> dict[str, Any]:
        path = find_repo_root(Path(root))
        scribe = self.roots.pop(path, None)
        if scribe is not None and scribe.recorder is not None:
            self._events_let_go += scribe.recorder.events  # the total never shrinks
        if scribe is not None:
            log.info("no open session left in %s: not recording it any more", path)
            await scribe.close()
        if not self.roots:
            self.idle_since = time.monotonic()
        return {"root": str(path), "watching": False}

    def _heard(self, path: Path, notification: Notification) -> None:
        if notification.method == SESSION_CHANGED and notification.params.get("change") == "stopped":
            self._schedule_check(path)

    def _schedule_check(self, path: Path) -> None:
        task = asyncio.ensure_future(self._check(path))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self, path: Path) -> None:
        scribe = self.roots.get(path)
        if scribe is None:
            return
        try:
            sessions = (await scribe.status())["sessions"]
            if sessions["active"] + sessions["paused"] == 0:
                await self.unwatch(path)
        except Exception as exc:
            self.last_error = f"{path}: {exc}"[:500]
            log.exception("checking %s failed", path)

    # -- status -----------------------------------------------------------------------------

    def _events(self) -> int:
        """Events recorded since the daemon started: its roots' and those let go since
        (a rate taken from a total that shrank with a root would go negative)."""
        now = sum(s.recorder.events for s in self.roots.values() if s.recorder is not None)
        return self._events_let_go + now

    def sample(self) -> None:
        self._samples.append((time.monotonic(), self._events()))

    async def status(self) -> dict[str, Any]:
        roots = []
        for path, scribe in list(self.roots.items()):
            report = await scribe.status()
            roots.append(
                {
                    "root": str(path),
                    "sessions": report["sessions"],
                    "currentSessionId": report["currentSessionId"],
                    "watcher": report["watcher"],
                    "queue": report["queue"],
                    "summaries": report["summaries"],
                }
            )
        rate = 0.0
        if len(self._samples) >= 2:
            (t0, e0), (t1, e1) = self._samples[0], self._samples[-1]
            rate = (e1 - e0) / (t1 - t0) if t1 > t0 else 0.0
        return {
            "pid": os.getpid(),
            "uptimeSeconds": round(time.monotonic() - self.started, 3),
            "roots": roots,
            "maxRoots": self.max_roots,
            "watchers": sum(1 for r in roots if r["watcher"]["running"]),
            "rssBytes": _rss_bytes(),
            "openFiles": _open_files(),
            "events": self._events(),
            "eventsPerSecond": round(rate, 2),
            "queue": {"pending": sum(r["queue"]["pending"] for r in roots)},
            "lastError": self.last_error,
            "metrics": {
                **snapshot(),
                "queues": {
                    "store": sum(r["queue"]["pending"] for r in roots),
                    "summaries": sum(r["summaries"]["pending"] for r in roots),
                },
                "watcherRestarts": sum(r["watcher"]["restarts"] for r in roots),
            },
            "idleExitSeconds": self.idle_exit,
            "socket": str(control.socket_path()),
            "log": str(control.log_path()),
        }

    # -- the socket -------------------------------------------------------------------------

    async def serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            answer = await self.answer(line)
            writer.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that said nothing or left: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer(self, line: bytes) -> dict[str, Any]:
        """One request line's answer: every request gets exactly one."""
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise Refused("expected a JSON object")
            op = request.get("op")
            if op == "watch":
                return {"ok": True, **await self.watch(request.get("root"))}
            if op == "unwatch":
                root = request.get("root")
                if not isinstance(root, str) or not os.path.isabs(root):
                    raise Refused("root: an absolute path is required")
                return {"ok": True, **await self.unwatch(root)}
            if op == "status":
                return {"ok": True, **await self.status()}
            if op == "stop":
                self.stop.set()
                return {"ok": True, "stopping": True}
            raise Refused(f"op: unknown operation {str(op)[:40]!r} (watch, unwatch, status, stop)")
        except Refused as exc:
            return {"ok": False, "error": str(exc)}
        except ValueError:
            return {"ok": False, "error": "the request is not JSON"}
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"[:500]
            log.exception("request failed")
            return {"ok": False, "error": self.last_error}

    # -- life -------------------------------------------------------------------------------

    async def run(self, watch: list[str]) -> None:
        path = control.socket_path()
        prepare_socket_dir(path)
        old_umask = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self.serve_connection, path, limit=MAX_REQUEST_BYTES)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.stop.set)
        log.info("scribe-ls daemon %d listening on %s", os.getpid(), path)
        try:
            for root in watch:
                try:
                    await self.watch(root)
                except Exception as exc:  # a root that cannot be recorded does not stop the rest
                    self.last_error = f"{root}: {exc}"[:500]
                    log.warning("not recording %s: %s", root, exc)
            async with server:
                await self._until_stopped()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
            await self._close_all()

    async def _until_stopped(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 1.0)
            self.sample()
            await self._let_go_of_removed_roots()
            idle = time.monotonic() - self.idle_since
            if self.idle_exit > 0 and not self.roots and idle > self.idle_exit:
                log.info("no roots for %.0f s: exiting", self.idle_exit)
                self.stop.set()

    async def _let_go_of_removed_roots(self) -> None:
        """A root deleted (a temp checkout, a removed worktree) has nothing left to record."""
        roots = list(self.roots)
        gone = await asyncio.to_thread(lambda: [r for r in roots if not (r / ".scribe").is_dir()])
        for root in gone:
            log.info("%s is gone: not recording it any more", root)
            await self.unwatch(root)

    async def _close_all(self) -> None:
        roots = list(self.roots)
        closing = [self.roots.pop(root).close() for root in roots]
        if not closing:
            return
        try:
            done = await asyncio.wait_for(asyncio.gather(*closing, return_exceptions=True), CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("closing the roots took over %.0f s; exiting anyway", CLOSE_TIMEOUT)
            return
        for root, result in zip(roots, done, strict=True):
            if isinstance(result, Exception):
                log.warning("closing %s failed: %s", root, result)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # macOS: the peak, in bytes

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _open_files() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def _take_lock() -> int | None:
    """The single-instance lock (its file names the holder's pid); None if held."""
    ensure_private_dir(control.lock_path().parent)
    fd = os.open(control.lock_path(), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _holder() -> str:
    try:
        return Path(control.lock_path()).read_text().strip() or "?"
    except OSError:
        return "?"


def _setup_logging(quiet: bool) -> None:
    from logging.handlers import RotatingFileHandler

    from ..logs import FORMAT, OneLineFormatter

    handlers: list[logging.Handler] = []
    try:
        ensure_private_dir(control.log_path().parent, parents=True)
        handlers.append(RotatingFileHandler(control.log_path(), maxBytes=1_000_000, backupCount=2))
    except OSError as exc:
        print(f"scribe-ls daemon: not logging to {control.log_path()}: {exc}", flush=True, file=_stderr())
    if not quiet:
        handlers.append(logging.StreamHandler(_stderr()))
    for handler in handlers:
        handler.setFormatter(OneLineFormatter(FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=handlers or [logging.NullHandler()], force=True)
    for noisy in ("pygls", "watchfiles", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stderr() -> Any:
    import sys

    return sys.stderr


def run(watch: list[str], *, max_roots: int, idle_exit: float, quiet: bool) -> int:
    """``scribe-ls daemon run``: serve until stopped. A second daemon hands its roots to
    the running one and exits 1, saying so."""
    _setup_logging(quiet)
    lock = _take_lock()
    if lock is None:
        for root in watch:
            with contextlib.suppress(OSError, control.DaemonError):
                control.request("watch", root=root)
        print(f"scribe-ls daemon: already running (pid {_holder()})", file=_stderr())
        return 1
    try:
        asyncio.run(Daemon(max_roots=max_roots, idle_exit=idle_exit).run(watch))
    finally:
        os.close(lock)
    logging.shutdown()
    # Watcher and lease threads may still sit in a blocking call: do not wait for them.
    os._exit(0)
