"""Delta packets: what changed in a context packet since one the client already has.

Every packet carries an ``etag`` (a hash of its sections and of the request's shape); the
provider remembers the last :data:`KEPT` packets by etag. ``getContext {since: etag}``
answers with the sections that changed, and within list-like sections only the items that
are new or changed (worklog entries by id, commits by sha, files by path, hunks by path and
header, other sessions by id), plus the keys of what disappeared. A session's and a
summary's counters (entries, files, active time, last activity) move with every note: they
come once, in the packet's ``stats``, and alone do not make those sections "changed". An
etag that is unknown (too old, another server, another request shape) gets a full packet
with ``full: true``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from .budget import to_json

KEPT = 32  # packets remembered for deltas

# For each section: the list fields compared item by item, and how an item is named. None
# as the field: the section's data is the list itself.
_KEYED: dict[str, list[tuple[str | None, Any]]] = {
    "worklog": [(None, lambda item: item["id"])],
    "commits": [(None, lambda item: item["sha"])],
    "sessions": [(None, lambda item: item["id"])],
    "git": [("files", lambda item: item["path"])],
    "diff": [
        ("files", lambda item: item["path"]),
        ("hunks", lambda item: f"{item['path']} {item['text'].split(chr(10), 1)[0]}"),
    ],
}
# Windows onto longer histories (the last 20 entries, the last 10 commits): an item that
# slides out of the window did not disappear, so it is not reported removed.
_WINDOWS = {"worklog", "commits"}
# Counters that move with every entry: compared apart (the packet's ``stats``).
_COUNTERS = {"session": ("stats", "lastActivityAt"), "summary": ("entries", "filesChanged")}


def etag_of(shape: str, content: str) -> str:
    """A packet's etag: its request shape and what it says (encoded by the caller)."""
    return hashlib.blake2b(f"{shape}\0{content}".encode(), digest_size=8).hexdigest()


class Remembered:
    """The last packets by etag: (request shape, sections)."""

    def __init__(self) -> None:
        self._packets: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()

    def keep(self, etag: str, shape: str, sections: dict[str, Any]) -> None:
        self._packets[etag] = (shape, sections)
        self._packets.move_to_end(etag)
        while len(self._packets) > KEPT:
            self._packets.popitem(last=False)

    def get(self, etag: str, shape: str) -> dict[str, Any] | None:
        found = self._packets.get(etag)
        return found[1] if found is not None and found[0] == shape else None


def _without(data: Any, keys: tuple[str, ...]) -> Any:
    return {k: v for k, v in data.items() if k not in keys} if isinstance(data, dict) else data


def delta_sections(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The changed sections of ``new`` against ``old`` (each ``{ok, data, removed?}``) and
    the names of those unchanged."""
    changed: dict[str, Any] = {}
    unchanged: list[str] = []
    for name, section in new.items():
        before = old.get(name)
        moving = _COUNTERS.get(name, ())
        same = (
            before is not None
            and before.get("ok") == section.get("ok")
            and to_json(_without(before.get("data"), moving))
            == to_json(_without(section.get("data"), moving))
            and before.get("error") == section.get("error")
        )
        if same:
            unchanged.append(name)
            continue
        if not section.get("ok") or before is None or not before.get("ok") or name not in _KEYED:
            changed[name] = {k: v for k, v in section.items() if k != "elapsedMs"}
            continue
        data, removed = section["data"], {}
        if isinstance(data, dict):
            data = dict(data)
        for field, key in _KEYED[name]:
            now_items = data if field is None else data.get(field, [])
            then_items = before["data"] if field is None else before["data"].get(field, [])
            then = {key(item): to_json(item) for item in then_items}
            fresh = [item for item in now_items if then.get(key(item)) != to_json(item)]
            gone = sorted(set(then) - {key(item) for item in now_items})
            if field is None:
                data = fresh
            else:
                data[field] = fresh
            if gone and name not in _WINDOWS:
                removed[field or "items"] = gone
        changed[name] = {"ok": True, "data": data} | ({"removed": removed} if removed else {})
    return changed, unchanged


def counters(sections: dict[str, Any]) -> dict[str, Any]:
    """The moving counters of a packet, for a delta's ``stats``."""
    session = sections.get("session", {})
    data = session.get("data") if session.get("ok") else None
    if not isinstance(data, dict):
        return {}
    return {**data.get("stats", {}), "lastActivityAt": data.get("lastActivityAt")}
