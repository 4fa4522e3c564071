"""Render and parse the worklog format (the legacy tool's Markdown, kept byte for byte).

```
# Worklog B-093

## 2025-08-21 03:01:12

- Session started
- Branch: main

## 2025-08-21 03:02:40

- Changes: 3 file(s)
  - path/one.py
```

Timestamps are UTC. One ``##`` block per write, as the legacy writer made them: the first
entry a write adds to a worklog opens a block (``opens_block``), the rest of that write
follow it; entries of the same second that do not open one share the block. The
kind of an entry is carried by a prefix (``Decision: ``, ``Idea: ``, ``TODO: ``,
``Commit: ``) so that parsing a rendered worklog and rendering it again gives the same
bytes; the legacy tool's own worklogs round-trip unchanged (``tests/data/legacy``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple

HEADING_FORMAT = "%Y-%m-%d %H:%M:%S"

# What a session's lifecycle writes (system entries), in the legacy tool's words: its
# worklogs and its import (worklog/legacy.py) read them back, so they stay as they were.
SESSION_STARTED = "Session started"
SESSION_STOPPED = "Session stopped"
SESSION_PAUSED = "Session paused"
SESSION_RESUMED = "Session resumed"
SWITCHED_TO = "Session paused; switched to {}"  # another session was started or resumed
BRANCH = "Branch: {}"
DETACHED = "(detached)"  # the branch of a detached HEAD
IDLE_PAUSE = "Idle timeout reached; pausing session"
IDLE_STOP = "Idle timeout reached; stopping scribe"

_KIND_PREFIX = {
    "decision": "Decision: ",
    "idea": "Idea: ",
    "todo": "TODO: ",
    "commit": "Commit: ",
    "intent": "Prompt: ",  # a coding agent's prompt (its hooks); the legacy tool had none
    "agent": "Agent: ",
}
_PREFIX_KIND = {prefix: kind for kind, prefix in _KIND_PREFIX.items()}
_CHANGES_RE = re.compile(r"^Changes: (\d+) file\(s\)")
_MORE_RE = re.compile(r"^\(\+(\d+) more\)$")
_SYSTEM_TEXTS = re.compile(
    r"^(Session (started|stopped|paused|resumed)|Branch: |Idle timeout|Resumed|Manual work update)"
)


class WorklogItem(NamedTuple):
    """One bullet of a worklog: what an entry needs to be rendered."""

    at: datetime
    kind: str
    text: str
    files: tuple[str, ...] = ()
    opens_block: bool = False  # a "## <time>" heading of its own, whatever the last one was
    author: str | None = None  # an agent that wrote it: "(by claude-code)" ends its first line


def heading_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(HEADING_FORMAT)


def _bullet(item: WorklogItem) -> list[str]:
    # Trailing blank lines are not kept (parsing drops them too), so every rendered
    # worklog ends with exactly one newline and new blocks can be appended to the file.
    lines = item.text.rstrip("\n").split("\n")
    first = _KIND_PREFIX.get(item.kind, "") + lines[0] + (f" (by {item.author})" if item.author else "")
    out = [f"- {first}"]
    out.extend(f"  {line}" if line else "" for line in lines[1:])
    out.extend(f"  - {path}" for path in item.files)
    changes = _CHANGES_RE.match(item.text)
    if changes and int(changes.group(1)) > len(item.files) and item.files:
        out.append(f"  - (+{int(changes.group(1)) - len(item.files)} more)")
    return out


def render(key: str, items: Iterable[WorklogItem]) -> str:
    return f"# Worklog {key}\n" + block("", items)


def block(last_heading: str, items: Iterable[WorklogItem]) -> str:
    """The text that follows a rendered worklog whose last ``##`` heading is
    ``last_heading`` when ``items`` are added: appending it to the file gives the same bytes
    as rendering everything again."""
    out: list[str] = []
    current = last_heading
    for item in items:
        stamp = heading_time(item.at)
        if stamp != current or item.opens_block:
            out.extend(("", f"## {stamp}", ""))
            current = stamp
        out.extend(_bullet(item))
    return "\n".join(out) + "\n" if out else ""


def _kind_of(text: str) -> tuple[str, str]:
    for prefix, kind in _PREFIX_KIND.items():
        if text.startswith(prefix):
            return kind, text[len(prefix) :]
    if _CHANGES_RE.match(text):
        return "activity", text
    if _SYSTEM_TEXTS.match(text):
        return "system", text
    return "note", text


class ParsedWorklog(NamedTuple):
    key: str
    items: list[WorklogItem]


def parse(text: str) -> ParsedWorklog:
    """Parse a legacy worklog; lenient about blank lines, strict about structure. The
    first bullet under each ``##`` heading opens its block (rendering gives the heading
    back even when the one before has the same second)."""
    key = ""
    items: list[WorklogItem] = []
    at: datetime | None = None
    first_in_block = False
    # text, continuation lines, files, whether it opens its block
    pending: tuple[str, list[str], list[str], bool] | None = None

    def flush() -> None:
        nonlocal pending
        if pending is not None and at is not None:
            first, more, files, opens = pending
            kind, body = _kind_of(first)
            full = "\n".join([body, *more]).rstrip("\n")
            items.append(WorklogItem(at, kind, full, tuple(files), opens_block=opens))
        pending = None

    for line in text.splitlines():
        if line.startswith("# ") and not key and not items and pending is None:
            key = line[2:].removeprefix("Worklog ").strip()
        elif line.startswith("## "):
            flush()
            first_in_block = True
            try:
                at = datetime.strptime(line[3:].strip(), HEADING_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                at = None
        elif line.startswith("- "):
            flush()
            pending = (line[2:], [], [], first_in_block)
            first_in_block = False
        elif line.startswith("  - ") and pending is not None:
            path = line[4:]
            if not _MORE_RE.match(path):
                pending[2].append(path)
        elif line.startswith("  ") and pending is not None:
            pending[1].append(line[2:])
        elif not line.strip() and pending is not None and pending[1]:
            # A blank line inside a multi-line note is kept only if more text follows.
            pending[1].append("")
    flush()
    return ParsedWorklog(key=key, items=items)
