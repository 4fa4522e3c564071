"""Writing a backlog item's summary: ``.scribe/summaries/<key>-summary.md`` from its sessions
(:mod:`scribe_ls.core.summarize` extracts and renders it), and telling listeners
(``scribe/summaryReady``)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from ..errors import StoreUnavailable
from ..git import commands as git
from ..redact import redact
from .events import SUMMARY_READY
from .summarize import extract_summary, render_summary

if TYPE_CHECKING:
    from .ports import Progress, ServicePort


async def write_summary(
    scribe: ServicePort, session_id: str | None = None, *, progress: Progress | None = None
) -> dict[str, Any]:
    """Summarize a session (default: the current one) with every other session of its
    backlog item, write ``.scribe/summaries/<key>-summary.md``, and tell listeners
    (``scribe/summaryReady``). Returns what ``scribe/summarize`` answers."""
    report = progress or (lambda message, percentage: None)
    session = await scribe.session_or_current(session_id)
    key = session.worklog_key
    report(f"Reading the entries of {key}", 10)
    sessions, entries = await scribe.store.sessions_and_entries(key)
    report("Reading the work tree", 50)
    uncommitted: list[str] | None = None
    current = await scribe.current_session()
    # The work tree is the checked-out item's: a completed or imported item, or one on
    # another branch, has nothing in progress there.
    if current is not None and current.id == session.id:
        try:
            # A file's name can hold a secret (AKIA….txt): redacted like every other path.
            files = (await git.status(scribe.root)).files
            uncommitted = [redact(f.path) for f in files if not f.path.startswith(".scribe/")]
        except git.GitError:
            pass  # not a repository, or git is missing: say nothing about it
    report("Writing the summary", 80)
    layout = scribe.store.layout
    path = layout.summary_path(key)
    relative = layout.relative(path)

    def extract() -> tuple[Any, str]:
        # All of an item's entries: CPU work for a worker thread, not the event loop.
        found = extract_summary(key, sessions, entries, uncommitted)
        return found, render_summary(found, layout.relative(layout.worklog_path(key)), relative)

    summary, markdown = await asyncio.to_thread(extract)
    try:
        await asyncio.to_thread(layout.write_atomic, path, markdown)
    except OSError as exc:  # read-only or full disk, or a planted link: the store's state
        raise StoreUnavailable(f"cannot write {relative}: {exc.strerror or exc}") from exc
    payload = {"sessionId": session.id, "path": str(path)}
    await scribe.store.publish("summary", session.id, json.dumps(payload))
    scribe.emit(SUMMARY_READY, payload)
    report(f"Summary written to {relative}", 100)
    return summary.to_wire(session.id, str(path), markdown)
