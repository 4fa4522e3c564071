"""Overlap warnings: a file the current session touched is changed by another open session.

Another session can be an open (paused) session of this root, or one in a linked worktree
of the same repository (``git worktree add``: its own work tree, its own ``.scribe/``). The
process that records a root checks each batch of changed files against both; it tells its
own clients (``scribe/overlap``), and puts the mirror image on the sibling's change feed
(:func:`tell_sibling`), so the sibling's clients hear that their file was changed here;
each once per file and pair of sessions. Synchronous (SQLite, git's
files): the recorder runs it in a worker thread, at most once a second.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ScribeError
from .gitfiles import sibling_worktrees
from .layout import Layout
from .model import Session
from .store import Store

MAX_PATHS = 500  # one check's paths: an SQL IN list, bounded


def _session_wire(session: Session, root: Path) -> dict[str, Any]:
    return {
        "id": session.id,
        "backlogId": session.backlog_id,
        "title": session.title,
        "branch": session.branch,
        "root": str(root),
    }


def find_overlaps(store: Store, session: Session, paths: Sequence[str]) -> list[dict[str, Any]]:
    """The overlaps of ``session``'s changed ``paths``: ``[{sessionId, otherSession,
    files}]`` for this root's clients. A sibling worktree's session that touched a path
    hears the mirror image through its own store."""
    paths = list(dict.fromkeys(paths))[:MAX_PATHS]
    found = [
        {"sessionId": session.id, "otherSession": _session_wire(other, store.root), "files": files}
        for other, files in store.sessions_touching(paths, session.id)
    ]
    for sibling in sibling_worktrees(store.root):
        layout = Layout(sibling)
        if not layout.db_path.is_file():
            continue  # nothing recorded there
        other_store = Store(sibling, origin=f"{os.getpid()}-overlap", layout=layout)
        try:
            other_store.open()
            touching = other_store.sessions_touching(paths, None)
            for other, files in touching:
                found.append(
                    {"sessionId": session.id, "otherSession": _session_wire(other, sibling), "files": files}
                )
        except ScribeError:
            continue  # a sibling store that cannot be used warns nobody
        finally:
            other_store.close()
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
    other_store = Store(sibling, origin=f"{os.getpid()}-overlap", layout=Layout(sibling))
    try:
        other_store.open()
        other_store.publish("overlap", other["id"], json.dumps(mirror))
    except ScribeError:
        pass  # a sibling store that cannot be used hears nothing
    finally:
        other_store.close()
