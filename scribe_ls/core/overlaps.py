"""Overlap warnings: a file the current session touched is changed by another open session.

Another session can be an open (paused) session of this root, or one in a linked worktree
of the same repository (``git worktree add``: its own work tree, its own ``.scribe/``). The
process that records a root checks each batch of changed files against both; it tells its
own clients (``scribe/overlap``), and puts the mirror image on the sibling's change feed
(:func:`tell_sibling`), so the sibling's clients hear that their file was changed here;
each once per file and pair of sessions; and the packet's ``sessions`` section lists the
siblings' open sessions (:func:`sibling_sessions`). Synchronous (SQLite, git's
files): the recorder runs it in a worker thread, at most once a second.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import ScribeError
from ..git.files import sibling_worktrees
from ..model import Overlap, Session
from ..store.database import Store
from ..store.layout import Layout
from ..team.views import identity, team_overlaps, verified

log = logging.getLogger(__name__)

MAX_PATHS = 500  # one check's paths: an SQL IN list, bounded
MAX_SESSION_PATHS = 5000  # a session's paths compared with a sibling's sessions


def _session_wire(session: Session, root: Path) -> dict[str, Any]:
    return {
        "id": session.id,
        "backlogId": session.backlog_id,
        "title": session.title,
        "branch": session.branch,
        "root": str(root),
    }


@contextmanager
def _sibling_store(sibling: Path) -> Iterator[Store | None]:
    """A linked worktree's store, opened for one look (None when nothing was recorded
    there or it cannot be opened). The store's own open refuses a planted link or a file
    that is not a store; an error while reading it or writing to it ends the look: a
    sibling's store that cannot be used warns nobody and hears nothing."""
    layout = Layout(sibling)
    if not layout.db_path.is_file():
        yield None
        return
    store = Store(sibling, origin=f"{os.getpid()}-overlap", layout=layout)
    try:
        store.open()
    except ScribeError:
        yield None
        return
    try:
        yield store
    except (ScribeError, sqlite3.Error) as exc:
        log.info("skipped the store of linked worktree %s: %s", sibling, exc)
    finally:
        store.close()


def find_overlaps(store: Store, session: Session, paths: Sequence[str]) -> list[dict[str, Any]]:
    """The overlaps of ``session``'s changed ``paths``: ``[{sessionId, otherSession,
    files}]`` for this root's clients. A sibling worktree's session that touched a path
    hears the mirror image through its own store; a teammate's (from the shared logs) is
    told on their machine when they sync."""
    paths = list(dict.fromkeys(paths))[:MAX_PATHS]
    found = [
        {"sessionId": session.id, "otherSession": _session_wire(other, store.root), "files": files}
        for other, files in store.sessions_touching(paths, session.id)
    ]
    for sibling in sibling_worktrees(store.root):
        with _sibling_store(sibling) as other_store:
            if other_store is not None:
                found += [
                    {"sessionId": session.id, "otherSession": _session_wire(other, sibling), "files": files}
                    for other, files in other_store.sessions_touching(paths, None)
                ]
    return found + team_overlaps(store, session, paths)


def sibling_sessions(store: Store, session_id: str | None) -> list[Overlap]:
    """The open sessions of the repository's linked worktrees, each with the files both it
    and ``session_id`` touched, and teammates' open sessions that changed any of its files
    (for the packet's ``sessions`` section)."""
    paths = store.session_paths(session_id, MAX_SESSION_PATHS) if session_id else []
    found: list[Overlap] = []
    for sibling in sibling_worktrees(store.root):
        with _sibling_store(sibling) as other_store:
            if other_store is not None:
                found += other_store.overlapping_sessions(None, paths=paths)
    # Teammates' open sessions on the same files (the shared logs: scribe_ls/team).
    found += [
        Overlap(
            other["id"],
            other["backlog_id"],
            other["title"] or "",
            other["branch"],
            str(store.root),
            tuple(other["shared"]),
            teammate=identity(other) + ("" if verified(other) else f" (pushed by {other['pusher']})"),
        )
        for other in store.team_sessions_touching(paths[:MAX_PATHS])
    ]
    return found


def tell_sibling(store: Store, session: Session, overlap: dict[str, Any]) -> None:
    """Put the mirror image of ``overlap`` (found for ``session``) on the sibling worktree's
    change feed: its clients hear that their session's files were changed here."""
    other = overlap["otherSession"]
    sibling = Path(other["root"])
    if sibling not in sibling_worktrees(store.root):
        return  # only a worktree of this repository, never a path from elsewhere
    mirror = {
        "sessionId": other["id"],
        "otherSession": _session_wire(session, store.root),
        "files": overlap["files"],
    }
    with _sibling_store(sibling) as other_store:
        if other_store is not None:
            other_store.publish("overlap", other["id"], json.dumps(mirror))
