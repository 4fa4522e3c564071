"""What ``scribe/status`` and ``scribe/metrics`` answer: the store, the sessions and the
recorder of a root, and this process's live metrics."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import StoreUnavailable
from ..store.opening import store_errors

if TYPE_CHECKING:
    from .operations import Ledger
    from .ports import ServicePort


def metrics_report(scribe: ServicePort) -> dict[str, Any]:
    """What ``scribe/metrics`` answers: this process's bounded histograms and counters
    (shared by every root a process serves), and this root's queues."""
    from ..metrics import snapshot

    return {
        **snapshot(),
        "queues": {
            "store": scribe.store.pending,
            "summaries": scribe.summaries.queue.qsize() if scribe.summaries is not None else 0,
        },
        "watcherRestarts": scribe.recorder.restarts if scribe.recorder is not None else 0,
    }


async def status_report(scribe: ServicePort) -> dict[str, Any]:
    """Answers even when the store cannot be used (``storeError`` says why)."""
    recorder = scribe.recorder
    watcher = None  # the ledger reports "not recording"
    if recorder is not None:
        watcher = {
            "running": recorder.running,
            "recorder": recorder.holds_lease,
            "events": recorder.events,
            "lastEventAt": recorder.last_event_at,
            "lastError": recorder.last_error,
            "restarts": recorder.restarts,
            "mode": scribe.config.watch,  # events (inotify and friends) or poll
        }
    report = await scribe.store.run(store_status, scribe.ledger, watcher=watcher, uptime=scribe.uptime)
    # This status call itself is not waiting any more when it reads the count.
    report["queue"] = {"pending": scribe.store.pending}
    report["summaries"] = (
        scribe.summaries.status()
        if scribe.summaries is not None
        else {"enabled": False, "pending": 0, "done": 0, "dropped": 0, "lastError": None}
    )
    return report


def store_status(
    ledger: Ledger, *, watcher: dict[str, Any] | None = None, pending: int = 0, uptime: float = 0.0
) -> dict[str, Any]:
    """What ``scribe/status`` answers. Answers even when the store cannot be used
    (``storeError`` says why); ``watcher`` is the recorder's report, if one runs here."""
    counts, current, store_error = {"active": 0, "total": 0, "paused": 0}, None, None
    sharing: dict[str, Any] = {"on": False, "remote": None, "lastSyncAt": None, "lastTryAt": None}
    sharing |= {"failures": 0, "lastError": None}
    try:
        with store_errors(ledger.store.dir):
            counts = ledger.store.counts()
            current = ledger.current_session()
            sharing = ledger.store.share_status()
    except StoreUnavailable as exc:
        store_error = exc.message
    return {
        "version": __version__,
        "root": str(ledger.root),
        "pid": os.getpid(),
        "uptimeSeconds": round(uptime, 3),
        "sessions": {"active": counts["active"], "total": counts["total"], "paused": counts["paused"]},
        "currentSessionId": current.id if current else None,
        # The session itself, so a client needs no getSession after status.
        "currentSession": current.to_wire() if current else None,
        "store": str(ledger.store.path),
        "storeError": store_error,
        "storeReadOnly": ledger.store.read_only is not None,
        "watcher": watcher
        or {
            "running": False,
            "recorder": False,
            "events": 0,
            "lastEventAt": None,
            "lastError": None,
            "restarts": 0,
            "mode": None,
        },
        "queue": {"pending": pending},
        # Sharing through the git remote (scribe_ls/team): failures > 0 while it is unreachable.
        "sharing": sharing,
    }
