"""Which files a decision, idea or todo names, and which of them changed after it was
written: an agent acting on it then knows it may be stale (``changedSince``)."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from typing import Any

from ..git import commands as git
from ..model import Entry, parse_iso

MAX_ENTRY_TEXT = 500  # the part of an entry's text searched for paths


# Entries whose files are checked for changes made after them (marked changedSince).
CLAIMS = frozenset({"decision", "idea", "todo"})


# A repository path in an entry's text: a word with a slash or a file extension.
_PATH_IN_TEXT = re.compile(
    r"(?<![\w/.-])([\w.-]+(?:/[\w.-]+)*\.[A-Za-z0-9]{1,8}|[\w.-]+(?:/[\w.-]+)+)(?![\w/])"
)


async def files_changed_since(root: Path, entries: list[Entry]) -> dict[int, list[str]]:
    """For each decision, idea or todo among ``entries`` that names files (its ``files``, or
    paths in its text): those changed since it was written, committed after it or edited
    after it and not committed. An agent acting on it then knows it may be stale."""
    named = {e.id: paths for e in entries if e.kind in CLAIMS and (paths := _named_paths(root, e))}
    if not named:
        return {}
    paths = sorted({path for found in named.values() for path in found})
    oldest = min(e.at for e in entries if e.id in named)
    try:
        committed, status = await asyncio.gather(git.last_committed(root, paths, oldest), git.status(root))
    except git.GitError:
        return {}
    dirty = {f.path for f in status.files}
    edited = await asyncio.to_thread(_mtimes, root, [p for p in paths if p in dirty])
    when = {e.id: parse_iso(e.at) for e in entries if e.id in named}
    return {
        entry_id: changed
        for entry_id, found in named.items()
        if (
            changed := [
                path
                for path in found
                if (path in committed and parse_iso(committed[path]) > when[entry_id])
                or (path in edited and edited[path] > when[entry_id].timestamp())
            ]
        )
    }


def names_files(section: dict[str, Any]) -> bool:
    """Whether a worklog section holds a decision, idea or todo (their files are checked)."""
    return any(item["kind"] in CLAIMS for item in section.get("data") or [])


def _named_paths(root: Path, entry: Entry) -> list[str]:
    """The repository files an entry names: its ``files``, and what looks like a path in
    its text (a word with a slash or an extension; never one that climbs out with ..), at
    most ten. git and lstat tell later which of them are files."""
    found = dict.fromkeys(entry.files[:10])
    for match in _PATH_IN_TEXT.finditer(entry.text[:MAX_ENTRY_TEXT]):
        candidate = match.group(1)
        if len(found) >= 10 or candidate.startswith(("../", "/")) or ".." in candidate.split("/"):
            continue
        found[candidate] = None
    return list(found)


def _mtimes(root: Path, paths: list[str]) -> dict[str, float]:
    """When each of ``paths`` (relative, inside ``root``) was last written; files only."""
    found = {}
    for path in paths:
        try:
            info = os.lstat(root / path)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(info.st_mode):
            found[path] = info.st_mtime
    return found
