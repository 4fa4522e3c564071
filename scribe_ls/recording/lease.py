"""The recorder lease: one process per root records."""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading

from ..store.layout import Layout


def _settle(acquired: asyncio.Future[None]) -> None:
    """On the loop: the lock is ours (unless the waiter gave up meanwhile)."""
    if not acquired.done():
        acquired.set_result(None)


class RecorderLease:
    """An advisory ``flock`` on ``.scribe/recorder.lock``: whoever holds it records.

    The kernel drops the lock when its holder dies, even on ``kill -9``; a waiting process
    is blocked in ``flock`` in a daemon thread and wakes up at that moment, so take-over
    costs no polling and no delay.
    """

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self.path = layout.lock_path
        self._fd: int | None = None
        self._closed = False

    def _open(self) -> int:
        # Never through a link: a planted recorder.lock must not truncate another file.
        return self._layout.open_fd(self.path, os.O_RDWR | os.O_CREAT)

    def try_acquire(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._take(fd)
        return True

    def _take(self, fd: int) -> None:
        self._fd = fd
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    async def wait_acquire(self) -> None:
        """Wait (without polling) until this process holds the lease."""
        loop = asyncio.get_running_loop()
        acquired: asyncio.Future[None] = loop.create_future()

        def block() -> None:
            fd = self._open()
            fcntl.flock(fd, fcntl.LOCK_EX)  # returns when the holder releases or dies
            if self._closed:
                os.close(fd)
                return
            self._take(fd)
            loop.call_soon_threadsafe(_settle, acquired)

        threading.Thread(target=block, name="scribe-lease", daemon=True).start()
        await acquired

    def release(self) -> None:
        self._closed = True
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
