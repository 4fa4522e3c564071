"""The legacy tool's blocking Python entry point, over the async core.

``fetch_scribe_context()`` keeps its old keys (``active_sessions, recent_worklogs,
session_registry, current_branch, recent_changes, timestamp``), but reads the one store
(so active sessions are really there, which the legacy tool never managed) and fetches git
facts in parallel instead of in a row of subprocesses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from pathlib import Path
from typing import Any

from .layout import Layout
from .protocol import Session, iso, utc_now

RECENT_WORKLOGS = 5
WORKLOG_TAIL = 2000


def _legacy_session(session: Session, worklog: Path) -> dict[str, Any]:
    return {
        "backlog_id": session.backlog_id or session.id,
        "session_id": session.id,
        "status": session.status,
        "start_time": session.started_at,
        "last_activity": session.last_activity_at,
        "worklog_path": str(worklog),
        "idle_timeout": session.idle_timeout,
        "context": {
            "tags": list(session.tags),
            "session_type": session.type,
            "priority": session.priority,
            "description": session.title,
            "related_sessions": [],
        },
    }


def _recent_worklogs(layout: Layout) -> list[dict[str, Any]]:
    """The newest worklogs' tails; links and other odd entries in the folder are skipped."""
    try:
        paths = [layout.worklog_dir / name for name in layout.list_names(layout.worklog_dir, ".md")]
        dated = [(info.st_mtime, path) for path in paths if (info := layout.stat(path)) is not None]
        result = []
        for _, path in sorted(dated, reverse=True)[:RECENT_WORKLOGS]:
            text = layout.read_text(path) or ""
            result.append({"backlog_id": path.stem, "path": str(path), "content": text[-WORKLOG_TAIL:]})
        return result
    except OSError:
        return []


async def fetch_scribe_context_async(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    from .service import Scribe

    async with Scribe(root) as scribe:
        active = await scribe.list_sessions(status="active", limit=100)
        everything = await scribe.list_sessions(limit=1000)
        packet = await scribe.context(sections=("git",), max_chars=1_000_000)
        worklogs = await asyncio.to_thread(_recent_worklogs, scribe.store.layout)
        git_section = packet["sections"]["git"]
        git_data = git_section.get("data") if git_section.get("ok") else None
        registry = {
            "last_updated": iso(utc_now()),
            "total_sessions": len(everything),
            "active_sessions": len(active),
            "sessions": {
                s.backlog_id or s.id: _legacy_session(s, scribe.store.worklog_path(s.worklog_key))
                for s in reversed(everything)  # newest wins for a backlog id with history
            },
        }
        return {
            "active_sessions": [_legacy_session(s, scribe.store.worklog_path(s.worklog_key)) for s in active],
            "recent_worklogs": worklogs,
            "session_registry": registry,
            "current_branch": git_data["branch"] if git_data else None,
            "recent_changes": [f["path"] for f in git_data["files"]] if git_data else [],
            "timestamp": iso(utc_now()),
        }


def fetch_scribe_context(root: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Blocking. Safe to call from code that already runs an event loop (it then runs the
    async core on a thread of its own)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fetch_scribe_context_async(root))
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, fetch_scribe_context_async(root)).result()
