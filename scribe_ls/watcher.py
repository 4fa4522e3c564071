"""Event-driven watching with watchfiles (Rust ``notify``), never polling.

``watch_store`` wakes a callback when another process commits to the store: every commit
touches ``scribe.db-wal`` (or ``scribe.db`` at a checkpoint), so watching those two files
gives cross-process notifications without asking SQLite in a loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

from .config import DB_NAME

log = logging.getLogger(__name__)

# watchfiles defaults (1600 ms debounce, 50 ms step) add ~50 ms+ of latency; these give
# ~15 ms on Linux while still folding a burst of commits into one wake-up.
DEBOUNCE_MS = 50
STEP_MS = 10


async def watch_store(
    scribe_dir: Path, on_change: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    names = {DB_NAME, f"{DB_NAME}-wal"}

    def store_files(change: Change, path: str) -> bool:
        return Path(path).name in names

    async for _ in awatch(
        scribe_dir,
        watch_filter=store_files,
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
        recursive=False,
    ):
        try:
            await on_change()
        except Exception:  # a failed relay must not end the watch
            log.exception("relaying store changes failed")
