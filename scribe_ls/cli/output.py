"""How the verbs print: JSON (``--json``), colour on a terminal only, and one line for a
session or an entry."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..model import Entry, Session


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


class Style:
    """ANSI colour for a terminal; nothing when output is piped, ``$NO_COLOR`` is set
    (https://no-color.org) or ``--no-color`` was given."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stdout(cls, args: argparse.Namespace) -> Style:
        wanted = not getattr(args, "no_color", False) and not os.environ.get("NO_COLOR")
        return cls(wanted and os.environ.get("TERM") != "dumb" and sys.stdout.isatty())

    def __call__(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def highlights(self, snippet: str) -> str:
        """A search snippet's ``**match**`` marks as bold yellow (kept as ``**`` when plain)."""
        if not self.enabled:
            return snippet
        parts = snippet.split("**")
        return "".join(self(part, "1;33") if i % 2 else part for i, part in enumerate(parts))


STATUS_COLOURS = {"active": "32", "paused": "33", "completed": "2"}
# Set per run by the verb runner; plain until then (library use, tests).
style = Style(False)


def session_line(session: Session) -> str:
    marker = {"active": "●", "paused": "‖", "completed": "✓"}[session.status]
    tags = f"  [{', '.join(session.tags)}]" if session.tags else ""
    label = session.backlog_id or "-"
    stats = session.stats
    counts = f"{_count(stats.entries, 'entry', 'entries')}, {_count(stats.files_changed, 'file')}"
    state = style(f"{marker} {label:<8} {session.status:<9}", STATUS_COLOURS[session.status])
    return f"{state} {session.id}  {session.title}{tags}  ({counts})"


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else many or one + 's'}"


def entry_line(entry: Entry) -> str:
    text = entry.text.replace("\n", " ⏎ ")
    return f"  #{entry.id:<5} {entry.at[:19].replace('T', ' ')}  {entry.kind:<8} {text}"
