"""The shared log's records: what one writer (one clone's store) says about its author's
work, as JSON lines, one segment per commit under ``refs/scribe/<author>/<writer>``
(docs/team.md). Pure: building the lines, and reading a teammate's, where every field is
checked and bounded; a record that is not what it should be is skipped and said, never
fatal.

Records (``t`` names the type; a later record of a session or a day replaces the earlier):

- ``hello``: ``{format, name, email, writer}``: who writes this log (self-declared; the
  commits' committer is who pushed it);
- ``session``: ``{id, backlogId, title, branch, status, startedAt, endedAt,
  lastActivityAt, activeSeconds, files}``;
- ``entry``: ``{id, session, at, kind, text, files, author}`` (``id`` the writer's own
  integer; with the writer it is unique across machines);
- ``time``: ``{day, item, branch, seconds}``: the writer's whole time on an item that day.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from ..contract import rules
from ..errors import InvalidParams
from ..model import parse_iso

FORMAT = 1
MAX_SEGMENT_BYTES = 4 << 20  # one commit's log.jsonl
MAX_RECORD_BYTES = 256 << 10
MAX_SEGMENT_RECORDS = 20000
MAX_SESSION_FILES = 200  # a session's files said at most (the overlaps' input)
MAX_SECONDS = 366 * 86400
SEGMENT_FILE = "log.jsonl"
STATUSES = ("active", "paused", "completed")
# Entry kinds shared; a prompt (``intent``) only where the user allows it (share_prompts).
SHARED_KINDS = ("note", "decision", "idea", "todo", "activity", "commit", "system", "agent")
_ID_RE = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
WRITER_RE = re.compile(r"[0-9a-f]{16}/[0-9a-f]{32}")


def author_id(email: str) -> str:
    """An author's id: the same on each of their machines (their git email), not the email
    itself in every ref name."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:16]


def new_writer_id() -> str:
    """A UUIDv7-shaped id (milliseconds, then random bits), hex: unique across machines."""
    millis = int(time.time() * 1000) & ((1 << 48) - 1)
    return f"{millis:012x}{os.urandom(10).hex()}"


def encode(records: Iterable[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode()


class Problem(Exception):
    """Why a record was skipped."""


def _string(
    record: dict[str, Any], key: str, *, max_len: int = rules.MAX_LABEL, optional: bool = False
) -> Any:
    value = record.get(key)
    if value is None and optional:
        return None
    try:
        return rules.string(value, key, max_len=max_len, required=True)
    except InvalidParams as exc:
        raise Problem(exc.message) from None


def _time(record: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = _string(record, key, max_len=40, optional=optional)
    if value is None:
        return None
    try:
        parse_iso(value)
    except ValueError:
        raise Problem(f"{key}: not an ISO 8601 time") from None
    return str(value)


def _id(record: dict[str, Any], key: str) -> str:
    value = _string(record, key, max_len=128)
    if not _ID_RE.fullmatch(value):
        raise Problem(f"{key}: not an id")
    return str(value)


def _paths(record: dict[str, Any], key: str, max_items: int) -> list[str]:
    """Paths inside the repository: relative, no ``..``, no control characters."""
    try:
        paths = rules.string_list(
            record.get(key), key, max_items=max_items, max_len=rules.MAX_PATH, one_line=True
        )
    except InvalidParams as exc:
        raise Problem(exc.message) from None
    for path in paths:
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or ".." in parts or any(ord(c) < 32 for c in path):
            raise Problem(f"{key}: {path[:80]!r} is not a path inside the repository")
    return list(paths)


def _seconds(record: dict[str, Any], key: str) -> float:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_SECONDS:
        raise Problem(f"{key}: not a number of seconds")
    return float(value)


def _checked(record: Any, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The record as it may be used (only the known fields), or Problem."""
    if not isinstance(record, dict):
        raise Problem("not a JSON object")
    kind = record.get("t")
    if kind == "hello":
        email = _string(record, "email")
        if "@" not in email or len(email) > 254:
            raise Problem("email: not an email address")
        return {"t": "hello", "name": _string(record, "name"), "email": email}
    if kind == "session":
        status = record.get("status")
        if status not in STATUSES:
            raise Problem("status: not a session status")
        try:
            backlog = rules.backlog_id(record.get("backlogId"), "backlogId")
        except InvalidParams as exc:
            raise Problem(exc.message) from None
        return {
            "t": "session",
            "id": _id(record, "id"),
            "backlogId": backlog,
            "title": _string(record, "title", optional=True),
            "branch": _string(record, "branch", optional=True),
            "status": status,
            "startedAt": _time(record, "startedAt"),
            "endedAt": _time(record, "endedAt", optional=True),
            "lastActivityAt": _time(record, "lastActivityAt", optional=True),
            "activeSeconds": _seconds(record, "activeSeconds"),
            "files": _paths(record, "files", MAX_SESSION_FILES),
        }
    if kind == "entry":
        entry_id = record.get("id")
        if isinstance(entry_id, bool) or not isinstance(entry_id, int) or not 0 < entry_id < 2**53:
            raise Problem("id: not an entry id")
        if record.get("kind") not in kinds:
            raise Problem("kind: not a shared kind")
        author = record.get("author")
        if author is not None and (not isinstance(author, str) or not rules.AUTHOR_RE.fullmatch(author)):
            raise Problem("author: not an author")
        return {
            "t": "entry",
            "id": entry_id,
            "session": _id(record, "session"),
            "at": _time(record, "at"),
            "kind": record["kind"],
            "text": _string(record, "text", max_len=rules.MAX_TEXT),
            "files": _paths(record, "files", rules.MAX_FILES),
            "author": author,
        }
    if kind == "time":
        day = _string(record, "day", max_len=10)
        if not _DAY_RE.fullmatch(day):
            raise Problem("day: not a YYYY-MM-DD day")
        return {
            "t": "time",
            "day": day,
            "item": _id(record, "item"),
            "branch": _string(record, "branch", optional=True) or "",
            "seconds": _seconds(record, "seconds"),
        }
    raise Problem(f"t: unknown record type {str(kind)[:20]!r}")


def _parsed(blob: bytes, problems: list[str]) -> list[tuple[int, Any]]:
    """A segment's lines as JSON values (line number, value); what is not, said."""
    if len(blob) > MAX_SEGMENT_BYTES:
        problems.append(f"a segment of {len(blob)} bytes (over {MAX_SEGMENT_BYTES}); skipped")
        return []
    values: list[tuple[int, Any]] = []
    for number, line in enumerate(blob.split(b"\n"), 1):
        if not line.strip():
            continue
        if len(values) >= MAX_SEGMENT_RECORDS:
            problems.append(f"over {MAX_SEGMENT_RECORDS} records; the rest skipped")
            break
        if len(line) > MAX_RECORD_BYTES:
            problems.append(f"line {number}: over {MAX_RECORD_BYTES} bytes; skipped")
            continue
        try:
            values.append((number, json.loads(line.decode("utf-8"))))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            problems.append(f"line {number}: not JSON; skipped")
    return values


def _state_key(value: Any) -> tuple[str, ...] | None:
    """What a later record replaces: a session by its id, a day's time by day, item and
    branch (None for the rest, and for a record too odd to have a key)."""
    if not isinstance(value, dict):
        return None
    if value.get("t") == "session" and isinstance(value.get("id"), str):
        return ("session", value["id"])
    day, item, branch = value.get("day"), value.get("item"), value.get("branch") or ""
    if (
        value.get("t") == "time"
        and isinstance(day, str)
        and isinstance(item, str)
        and isinstance(branch, str)
    ):
        return ("time", day, item, branch)
    return None


ALL_KINDS = (*SHARED_KINDS, "intent")


def decode(blob: bytes, *, kinds: tuple[str, ...] = ALL_KINDS) -> tuple[list[dict[str, Any]], list[str]]:
    """A segment's records that may be used, and what was skipped (said, not fatal)."""
    ((found, problems),) = decode_many([blob], kinds=kinds)
    return found, problems


def decode_many(
    blobs: Iterable[bytes], *, kinds: tuple[str, ...] = ALL_KINDS
) -> list[tuple[list[dict[str, Any]], list[str]]]:
    """Each segment's records that may be used and what was skipped, for segments read in
    order: a session's or a day's state that a later segment replaces is left out unread
    (a log says a session's state at every sync; only the last counts)."""
    parsed: list[tuple[list[tuple[int, Any]], list[str]]] = []
    last: dict[tuple[str, ...], tuple[int, int]] = {}
    for index, blob in enumerate(blobs):
        problems: list[str] = []
        values = _parsed(blob, problems)
        for position, (_, value) in enumerate(values):
            if (key := _state_key(value)) is not None:
                last[key] = (index, position)
        parsed.append((values, problems))
    result = []
    for index, (values, problems) in enumerate(parsed):
        kept = []
        for position, (number, value) in enumerate(values):
            key = _state_key(value)
            if key is not None and last[key] != (index, position):
                continue  # a later record says this one's state
            try:
                kept.append(_checked(value, kinds))
            except Problem as exc:
                problems.append(f"line {number}: {exc}; skipped")
        result.append((kept, problems))
    return result
