"""The lifecycle of a session: which open session a start rejoins, what is paused when
another is worked on, when a status may change, and what each change writes.

One root has one work tree, so one session is worked on at a time: starting or resuming
one pauses whatever else was active. Every function here is one store write
(:meth:`~scribe_ls.store.base.StoreBase.write`): all of it or nothing, and a check made
inside it (the open-session limit, "still idle?") cannot race another process's write.
The texts are the legacy worklog's (:mod:`scribe_ls.worklog.format`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from ..errors import InvalidParams, LimitReached
from ..model import DEFAULT_PRIORITY, DEFAULT_TYPE, Entry, Session, iso, parse_iso
from ..store.database import Store, Touched
from ..worklog.format import (
    BRANCH,
    DETACHED,
    SESSION_PAUSED,
    SESSION_RESUMED,
    SESSION_STARTED,
    SWITCHED_TO,
)


class Started(NamedTuple):
    session: Session
    # started, resumed (it was paused), updated (open, and something given changed) or
    # rejoined (open, nothing changed)
    change: str
    touched: list[Touched]  # in order: sessions paused for it first, then the session


def start(
    store: Store,
    *,
    backlog_id: str | None,
    branch: str | None,
    title: str | None,
    default_title: str,
    tags: Sequence[str],
    type: str | None,
    priority: str | None,
    max_open: int,
) -> Started:
    """Start a session, or rejoin the open one of the same backlog item (without a backlog
    id: the open one without one on the same branch), applying what was given (``title``,
    ``tags`` added; None: not given). A paused one is resumed. Whatever else was active is
    paused first."""
    now = store.now()
    with store.write():
        found = store.open_session(backlog_id) if backlog_id is not None else store.open_on_branch(branch)
        if found is not None:
            return _rejoin(store, found, title, tags, type, priority, now)
        touched = _pause_others(store, None, backlog_id or default_title, now)
        # Open sessions (active or paused) are bounded: one more is refused at the limit.
        if store.open_count() >= max_open:
            raise LimitReached(max_open)
        session_id = store.insert_session(
            backlog_id=backlog_id,
            title=title or default_title,
            branch=branch,
            tags=tags,
            type=type or DEFAULT_TYPE,
            priority=priority or DEFAULT_PRIORITY,
            now=now,
        )
        texts = (SESSION_STARTED, BRANCH.format(branch)) if branch else (SESSION_STARTED,)
        entries = [store.add_system_entry(session_id, text, now, pulse=True) for text in texts]
        session = store.get_session(session_id)
        touched.append((session, "started", entries))
        return Started(session, "started", touched)


def _rejoin(
    store: Store,
    session: Session,
    title: str | None,
    tags: Sequence[str],
    type: str | None,
    priority: str | None,
    now: str,
) -> Started:
    touched: list[Touched] = []
    change = "rejoined"
    if session.status == "paused":
        touched += _activate(store, session, now)
        change = "resumed"
    old_tags = list(session.tags)
    new_tags = old_tags + [t for t in tags if t not in old_tags]
    changed_title = title if title is not None and title != session.title else None
    changed_tags = new_tags if new_tags != old_tags else None
    changed_type = type if type is not None and type != session.type else None
    changed_priority = priority if priority is not None and priority != session.priority else None
    changed = (changed_title, changed_tags, changed_type, changed_priority)
    updated = any(value is not None for value in changed)
    if updated:
        store.set_fields(
            session.id, title=changed_title, tags=changed_tags, type=changed_type, priority=changed_priority
        )
    store.touch(session.id, now)
    session = store.get_session(session.id)
    if updated:
        touched.append((session, "updated", []))
        change = "updated" if change == "rejoined" else change
    return Started(session, change, touched)


def _activate(store: Store, session: Session, now: str) -> list[Touched]:
    """Make a paused session active, pausing whatever else was active first."""
    touched = _pause_others(store, session.id, session.backlog_id or session.title, now)
    entries = _set_status(store, session.id, "active", SESSION_RESUMED, now, pulse=True)
    store.touch(session.id, now)
    touched.append((store.get_session(session.id), "resumed", entries))
    return touched


def _pause_others(store: Store, session_id: str | None, switched_to: str, now: str) -> list[Touched]:
    """Pause every active session but ``session_id``: a root has one work tree, and the
    session being worked on is the one its activity belongs to."""
    touched: list[Touched] = []
    for other in store.active_sessions(but=session_id):
        text = SWITCHED_TO.format(switched_to)
        entries = _set_status(store, other.id, "paused", text, now, pulse=False)
        touched.append((store.get_session(other.id), "paused", entries))
    return touched


def _set_status(
    store: Store, session_id: str, status: str, text: str, now: str, *, pulse: bool
) -> list[Entry]:
    """Move a session to ``status``, with a system entry; ``pulse``: the developer did it
    (counts as active time), not a timer or another session's start. A span of active time
    ends when the session stops being active (after the entry's own pulse)."""
    store.set_status(session_id, status, now)
    entry = store.add_system_entry(session_id, text, now, pulse=pulse)
    if status != "active":
        store.end_span(session_id)
    return [entry]


def update(
    store: Store,
    session_id: str,
    *,
    status: str | None,
    title: str | None,
    add_tags: Sequence[str],
    remove_tags: Sequence[str],
) -> tuple[Session, list[Touched]]:
    """Pause or resume (resuming one pauses the session that was active), retitle, tag: the
    session and what changed, in order. A completed session's status does not change."""
    now = store.now()
    touched: list[Touched] = []
    with store.write():
        session = store.get_session(session_id)
        if status is not None and status != session.status:
            if session.status == "completed":
                raise InvalidParams("status", f"session {session_id} is completed; start a new one")
            if status == "active":
                touched += _activate(store, session, now)
            else:
                entries = _set_status(store, session_id, "paused", SESSION_PAUSED, now, pulse=True)
                touched.append((store.get_session(session_id), "paused", entries))
        tags = list(session.tags)
        new_tags = [t for t in tags if t not in remove_tags]
        new_tags += [t for t in add_tags if t not in new_tags]
        retitled = title is not None and title != session.title
        updated = retitled or new_tags != tags
        if updated:
            store.set_fields(
                session_id, title=title if retitled else None, tags=new_tags if new_tags != tags else None
            )
            store.touch(session_id, now)
        session = store.get_session(session_id)
        if updated:
            touched.append((session, "updated", []))
        return session, touched


def stop(store: Store, session_id: str, text: str, *, pulse: bool) -> tuple[Session, list[Entry]]:
    """Stop a session (it becomes completed); stopping a stopped one changes nothing."""
    now = store.now()
    with store.write():
        session = store.get_session(session_id)
        if session.status == "completed":
            return session, []
        entries = _set_status(store, session_id, "completed", text, now, pulse=pulse)
        return store.get_session(session_id), entries


def pause_idle(store: Store, session_id: str, text: str, now: datetime) -> tuple[Session, list[Entry]] | None:
    """Pause an active session that is still idle (checked in the same write); None if it
    is not active or saw activity meanwhile. The next activity resumes it."""
    with store.write():
        session = store.get_session(session_id)
        idle = (now - parse_iso(session.last_activity_at)).total_seconds() > session.idle_timeout
        if session.status != "active" or not idle:
            return None
        entries = _set_status(store, session_id, "paused", text, iso(now), pulse=False)
        store.mark_paused_by_idle(session_id)
        return store.get_session(session_id), entries


def rebind_branch(store: Store, session_id: str, branch: str | None) -> tuple[Session, list[Entry]]:
    """Re-bind a session to the branch now checked out (a ``branchChanged``)."""
    now = store.now()
    with store.write():
        store.get_session(session_id)  # it exists, or SessionNotFound
        store.set_branch(session_id, branch)
        store.touch(session_id, now)
        entry = store.add_system_entry(session_id, BRANCH.format(branch or DETACHED), now, pulse=True)
        return store.get_session(session_id), [entry]
