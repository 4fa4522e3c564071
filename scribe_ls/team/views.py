"""What the teammates' logs say, as people read it: who is on which item (a person's
machines as one), and which of their open sessions change files one of ours changes
(from the store's rows: :meth:`scribe_ls.store.team.TeamTables.team_sessions`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import records as rec

if TYPE_CHECKING:
    from ..model import Session
    from ..store.database import Store

MAX_PATHS = 500  # one check's paths

_EMAIL_IN = re.compile(r"<([^<>]*)>")


def identity(row: dict[str, Any]) -> str:
    """``Ana Lima <ana@example.com>`` as the log says it; the pusher where it says nothing."""
    if row.get("email"):
        return f"{row.get('name') or row['email']} <{row['email']}>"
    return str(row.get("pusher") or row["author_id"])


def verified(row: dict[str, Any]) -> bool:
    """Whether whoever pushed the log is the author its name says: the ref's author id is
    that of the pushing commit's committer email (a forged ref shows who pushed it), and
    its signature, where the user's git checks one, is not bad."""
    pusher = str(row.get("pusher") or "")
    found = _EMAIL_IN.search(pusher)
    mine = found is not None and rec.author_id(found.group(1)) == row["author_id"]
    return mine and not pusher.endswith("(BAD signature)")


def team(rows: Iterable[dict[str, Any]], *, me: str | None = None) -> list[dict[str, Any]]:
    """One row per author (their machines merged): who, open sessions (item, title, since,
    last activity, files), whether the log is theirs; ``me``: this user's author id."""
    people: dict[str, dict[str, Any]] = {}
    for row in rows:
        person = people.setdefault(
            row["author_id"],
            {
                "author": identity(row),
                "named": bool(row.get("email")),
                "authorId": row["author_id"],
                "you": row["author_id"] == me,
                "verified": True,
                # Every log of theirs signed, where this user's git checks signatures.
                "signed": True,
                "pushedBy": [],  # who pushed a log that names this author but is not theirs
                "machines": set(),
                "sessions": [],
            },
        )
        if row.get("email") and not person["named"]:
            person["author"], person["named"] = identity(row), True  # the log's own hello
        person["machines"].add(row["writer"])
        person["signed"] = person["signed"] and str(row.get("pusher") or "").endswith("(signed)")
        if not verified(row):
            person["verified"] = False
            if row.get("pusher") not in person["pushedBy"]:
                person["pushedBy"].append(row.get("pusher"))
        if row["status"] != "completed":
            person["sessions"].append(
                {
                    "item": row["backlog_id"] or row["id"],
                    "title": row["title"],
                    "branch": row["branch"],
                    "status": row["status"],
                    "since": row["started_at"],
                    "lastActivityAt": row["last_activity_at"],
                    "files": row["files"][:20],
                    "fileCount": len(row["files"]),
                }
            )
    return [
        {**{k: v for k, v in person.items() if k != "named"}, "machines": len(person["machines"])}
        for person in sorted(people.values(), key=lambda p: (not p["you"], p["author"].lower()))
    ]


def overlap_said(row: dict[str, Any], files: list[str]) -> str:
    """``a teammate (Ana <ana@example.com>) is changing src/x.py on B-1300 since 10:02``."""
    since = str(row.get("started_at") or "")[11:16]
    item = row.get("backlog_id") or row["id"]
    shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    who = identity(row) + ("" if verified(row) else f", pushed by {row.get('pusher')}")
    return f"a teammate ({who}) is changing {shown} on {item}" + (f" since {since} UTC" if since else "")


def team_overlaps(store: Store, session: Session, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Teammates' open sessions (from the shared logs) that changed any of ``paths``, as
    overlaps: the other session's ``root`` is this repository (theirs is another copy of
    it), ``teammate`` says who and ``message`` says it in words."""
    return [
        {
            "sessionId": session.id,
            "otherSession": {
                "id": other["id"],
                "backlogId": other["backlog_id"],
                "title": other["title"] or "",
                "branch": other["branch"],
                "root": str(store.root),
                "teammate": identity(other),
                "verified": verified(other),
                "since": other["started_at"],
            },
            "files": other["shared"],
            "message": overlap_said(other, other["shared"]),
        }
        for other in store.team_sessions_touching(list(paths)[:MAX_PATHS])
    ]
