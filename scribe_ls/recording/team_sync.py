"""The recorder's sharing: while sharing is on and a session is active, a sync (write,
fetch, read, push: :mod:`scribe_ls.team.share`) every ``sync_interval`` seconds, and one
soon after the user's own ``git push`` (the remote-tracking refs moved); while the remote
cannot be reached the wait doubles per failed try, up to MAX_BACKOFF, and ``status`` says
so (``sharing``). A sync runs in a worker thread on a connection of its own (its git
processes may take a minute; the service's store thread never waits for them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Protocol

from ..config import Config
from ..errors import ScribeError
from ..git import commands as git
from ..model import Session
from ..store.threaded import AsyncStore


class SyncTarget(Protocol):
    """What the loop needs of the service (the recorder's target is one)."""

    root: Path
    config: Config
    store: AsyncStore

    async def current_session(self) -> Session | None: ...


log = logging.getLogger(__name__)

MAX_BACKOFF = 1800.0
AFTER_PUSH = 2.0  # seconds after the remote-tracking refs moved (a push's writes settle)
FIRST_SYNC = 3.0  # seconds after recording starts


def backoff(interval: float, failures: int) -> float:
    """The wait before the next try: ``interval``, doubled per failure in a row, capped."""
    return min(MAX_BACKOFF, interval * (2 ** min(failures, 16)))


class TeamSync:
    def __init__(self, scribe: SyncTarget) -> None:
        self.scribe = scribe
        self._poked = asyncio.Event()
        self._remote_refs: str | None = None
        self.syncs = 0

    def poke(self) -> None:
        """Refs moved (a commit, a checkout, a push): the loop looks whether it was a push."""
        self._poked.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: wait the interval (or a poke), then sync if sharing is on and a
        session is active. Never raises: sharing never stops recording. Without sharing it
        costs a timer and a store read, never a git process."""
        first = True
        while not stop.is_set():
            failures = await self._setting_int("failures")
            delay = backoff(self.scribe.config.sync_interval, failures)
            if first:  # soon after recording starts: an editor opens on the team's latest
                delay, first = min(delay, FIRST_SYNC), False
            woke = await self._wait(stop, delay)
            if stop.is_set():
                return
            try:
                if not await self._due():
                    continue
                if woke:  # poked: only a push (the remote-tracking refs moved) syncs early
                    await asyncio.sleep(AFTER_PUSH)
                    refs = await self._remote_tracking()
                    if refs == self._remote_refs:
                        continue
                    self._remote_refs = refs
                else:
                    self._remote_refs = await self._remote_tracking()  # what a push will move
                await asyncio.to_thread(self._sync_once)
                self.syncs += 1
            except Exception:  # logged; the next interval tries again
                log.exception("sharing: sync failed")

    async def _wait(self, stop: asyncio.Event, delay: float) -> bool:
        """Sleep ``delay`` or until poked or stopped; whether it was a poke."""
        self._poked.clear()
        waiters = [asyncio.ensure_future(self._poked.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self._poked.is_set()

    async def _setting_int(self, key: str) -> int:
        store = self.scribe.store
        try:
            return int(await store.run(store.sync.share_setting, key) or 0)
        except (ScribeError, ValueError):
            return 0

    async def _due(self) -> bool:
        """Sharing is on here (or the user's config says everywhere) and a session is active."""
        store = self.scribe.store
        consent = await store.run(store.sync.share_setting, "consent")
        if consent is None and not self.scribe.config.share:
            return False
        session = await self.scribe.current_session()
        return session is not None and session.status == "active"

    def _sync_once(self) -> None:
        from ..git.remote import RemoteError
        from ..store.database import Store
        from ..team import share

        config = self.scribe.config
        store = Store(self.scribe.root, origin=f"{os.getpid()}-sync", layout=self.scribe.store.layout)
        try:
            store.open()
            report = share.sync(
                store, self.scribe.root, prompts=config.share_prompts, everywhere=config.share
            )
            if report.error:
                log.warning("sharing: %s", report.error)
            for warning in report.warnings[:20]:
                log.warning("sharing: skipped %s", warning)
        except (share.ShareError, RemoteError, ScribeError) as exc:
            log.warning("sharing: not synced: %s", exc)
        finally:
            store.close()

    async def _remote_tracking(self) -> str | None:
        with contextlib.suppress(git.GitError):
            return await git.run_git(
                self.scribe.root, "for-each-ref", "--format=%(objectname)", "refs/remotes/"
            )
        return None
