"""Everything about the legacy Scribe tool: its registry file, importing its worklogs, and
its blocking Python entry point.

``import_legacy`` reads legacy worklogs (``# Worklog B-123`` Markdown) and
``session_registry.json`` files into completed sessions. ``fetch_scribe_context()``
keeps its old keys (``active_sessions, recent_worklogs, session_registry,
current_branch, recent_changes, timestamp``), but reads the one store (so active sessions
are really there, which the legacy tool never managed) and fetches git facts in parallel
instead of in a row of subprocesses.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..contract.rules import BACKLOG_ID_RE
from ..model import DEFAULT_PRIORITY, DEFAULT_TYPE, Session, iso, utc_now
from ..redact import redact, redact_all
from ..store.layout import Layout
from . import format as worklog

if TYPE_CHECKING:
    from ..core.operations import Ledger

RECENT_WORKLOGS = 5
WORKLOG_TAIL = 2000


def _legacy_session(session: Session) -> dict[str, Any]:
    return {
        "backlog_id": session.backlog_id or session.id,
        "session_id": session.id,
        "status": session.status,
        "start_time": session.started_at,
        "last_activity": session.last_activity_at,
        "worklog_path": session.worklog_path,
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
    from ..core.service import Scribe

    async with Scribe(root) as scribe:  # the service imports nothing from here
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
                s.backlog_id or s.id: _legacy_session(s)
                for s in reversed(everything)  # newest wins for a backlog id with history
            },
        }
        return {
            "active_sessions": [_legacy_session(s) for s in active],
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


# -- the registry and importing ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LegacySession:
    """What the legacy ``session_registry.json`` knew about one backlog item."""

    backlog_id: str
    start_time: datetime | None
    last_activity: datetime | None
    tags: tuple[str, ...]
    session_type: str | None
    priority: str | None
    description: str | None
    idle_timeout: int | None


def _legacy_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # The legacy tool wrote naive timestamps; treat them as UTC like its worklog headings.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_registry(text: str) -> list[LegacySession]:
    """Parse ``artifacts/session_registry.json``; entries it cannot read are skipped."""
    data = json.loads(text)
    sessions = data.get("sessions", {}) if isinstance(data, dict) else {}
    result = []
    for key, raw in sessions.items() if isinstance(sessions, dict) else ():
        if not isinstance(raw, dict):
            continue
        context: dict[str, Any] = raw["context"] if isinstance(raw.get("context"), dict) else {}
        tags: list[Any] = context["tags"] if isinstance(context.get("tags"), list) else []
        timeout = raw.get("idle_timeout")
        result.append(
            LegacySession(
                backlog_id=str(raw.get("backlog_id") or key),
                start_time=_legacy_time(raw.get("start_time")),
                last_activity=_legacy_time(raw.get("last_activity")),
                tags=tuple(str(t) for t in tags if isinstance(t, str) and t.strip()),
                session_type=context.get("session_type")
                if isinstance(context.get("session_type"), str)
                else None,
                priority=context.get("priority") if isinstance(context.get("priority"), str) else None,
                description=context.get("description")
                if isinstance(context.get("description"), str)
                else None,
                idle_timeout=int(timeout) if isinstance(timeout, int | float) and timeout > 0 else None,
            )
        )
    return result


def import_legacy(ledger: Ledger, paths: Sequence[Path]) -> dict[str, list[dict[str, Any]]]:
    """Import legacy worklogs and registries (files, or folders holding them) as completed
    sessions, worklogs rendered. A worklog holds one session per ``Session started``; each
    keeps its branch (``Branch: …``), its real start and end, and its active time. Importing
    twice adds nothing. Blocking."""
    worklogs, registry, skipped = _read_legacy(paths)
    imported = []
    for backlog_id in sorted(set(worklogs) | set(registry)):
        legacy = registry.get(backlog_id)
        timeout = (legacy.idle_timeout if legacy else None) or ledger.config.idle_timeout
        segments = split_sessions(worklogs.get(backlog_id, []))
        if not segments:
            start = legacy.start_time if legacy else None
            if start is None:
                skipped.append({"what": backlog_id, "why": "no start time in registry or worklog"})
                continue
            segments = [LegacyRun(start, (legacy.last_activity if legacy else None) or start, None, [])]
        added = []
        for run in segments:
            session = ledger.store.import_session(
                backlog_id=backlog_id,
                title=redact((legacy.description if legacy else None) or backlog_id),
                branch=redact(run.branch) if run.branch else None,
                tags=redact_all(legacy.tags) if legacy else (),
                type=(legacy.session_type if legacy else None) or DEFAULT_TYPE,
                priority=(legacy.priority if legacy else None) or DEFAULT_PRIORITY,
                own_idle_timeout=legacy.idle_timeout if legacy else None,
                items=run.items,
                started_at=iso(run.started),
                ended_at=iso(run.ended),
                active_seconds=active_seconds(run.items, timeout),
                redact=redact,
            )
            if session is not None:
                added.append(session)
                imported.append({"backlogId": backlog_id, "sessionId": session.id, "entries": len(run.items)})
        if not added:
            skipped.append({"what": backlog_id, "why": "already imported"})
        else:
            ledger.worklogs.render_quietly(added[0].worklog_key)
    return {"imported": imported, "skipped": skipped}


@dataclass(frozen=True, slots=True)
class LegacyRun:
    """One legacy session, from a ``Session started`` to the next."""

    started: datetime
    ended: datetime
    branch: str | None
    items: list[worklog.WorklogItem]


def split_sessions(items: Sequence[worklog.WorklogItem]) -> list[LegacyRun]:
    """The sessions in a worklog's items: each ``Session started`` begins one (anything
    before the first belongs to it)."""
    runs: list[list[worklog.WorklogItem]] = []
    for item in items:
        if not runs or (item.kind == "system" and item.text == "Session started" and runs[-1]):
            runs.append([])
        runs[-1].append(item)
    result = []
    for run in runs:
        branches = (i.text for i in run if i.kind == "system" and i.text.startswith("Branch: "))
        branch = next(branches, "").removeprefix("Branch: ")
        known = branch if branch not in ("", "(detached)") else None
        result.append(LegacyRun(run[0].at, run[-1].at, known, run))
    return result


def active_seconds(items: Sequence[worklog.WorklogItem], idle_timeout: int) -> float:
    """Time between consecutive writes, counting only gaps the legacy tool would not have
    stopped for (no longer than its idle timeout): what the developer was active for."""
    total = 0.0
    for before, after in itertools.pairwise(items):
        gap = (after.at - before.at).total_seconds()
        if 0 < gap <= idle_timeout:
            total += gap
    return total


def _read_legacy(
    paths: Sequence[Path],
) -> tuple[dict[str, list[worklog.WorklogItem]], dict[str, LegacySession], list[dict[str, Any]]]:
    """Find and parse legacy files."""
    worklogs: dict[str, list[worklog.WorklogItem]] = {}
    registry: dict[str, LegacySession] = {}
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
                    for legacy in read_registry(text):
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
