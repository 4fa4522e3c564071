"""What coding agents did on an item, from their hooks' entries: per agent (its name, its
runs told apart by the author's session part), the turns, the files it wrote, the commands
that failed. Read by the stand-up; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..model import Entry

# "ran `pytest …` → exit 1", "→ failed", "→ interrupted": a command that did not succeed.
_FAILED = re.compile(r"→ (?:exit -?[1-9]\d*|failed|interrupted)$")


def agent_work(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """``[{agent, runs, turns, files, failedCommands}]``, one per agent, by name."""
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry.author or entry.kind not in ("agent", "intent", "activity"):
            continue
        if entry.kind == "activity" and ":" not in entry.author:
            continue  # a script's or an MCP client's note, not a hook's run
        name, _, run = entry.author.partition(":")
        work = found.setdefault(
            name, {"agent": name, "runs": set(), "prompts": 0, "stops": 0, "files": set()}
        )
        work["runs"].add(run)
        work.setdefault("failedCommands", 0)
        if entry.kind == "intent":
            work["prompts"] += 1
        elif entry.kind == "agent" and entry.text == "turn ended":
            work["stops"] += 1
        elif entry.kind == "agent" and _FAILED.search(entry.text):
            work["failedCommands"] += 1
        work["files"].update(entry.files)
    return [
        {
            "agent": name,
            "runs": len(work["runs"]),
            # A turn starts with a prompt and ends with a stop; either may be missing.
            "turns": max(work["prompts"], work["stops"]),
            "files": len(work["files"]),
            "failedCommands": work["failedCommands"],
        }
        for name, work in sorted(found.items())
    ]


def said(work: dict[str, Any]) -> str:
    """``claude-code: 7 turns, 12 files, 2 failed commands``."""

    def count(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    parts = [
        count(work["turns"], "turn"),
        count(work["files"], "file"),
        count(work["failedCommands"], "failed command"),
    ]
    return f"{work['agent']}: {', '.join(parts)}"
