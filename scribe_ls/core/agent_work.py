"""What coding agents did on an item, from their hooks' entries: per agent (its name, its
runs told apart by the author's session part), the turns, the files it wrote, the commands
that failed. Read by the stand-up; pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..model import Entry, clip

# "ran `pytest …` → exit 1", "→ failed", "→ interrupted": a command that did not succeed.
_FAILED = re.compile(r"→ (?:exit -?[1-9]\d*|failed|interrupted)$")
# "edited src/x.py (+3/-1)", "wrote src/y.py (+12)": the lines its tools said they changed
# (agents/hooks.py lines_said).
_LINES = re.compile(r"^(?:edited|wrote) .* \(\+(\d+)(?:/-(\d+))?\)$")


def agent_work(entries: Iterable[Entry]) -> list[dict[str, Any]]:
    """``[{agent, runs, turns, files, linesAdded, linesRemoved, failedCommands}]``, one per
    agent, by name. The lines are those its edits' payloads stated."""
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not entry.author or entry.kind not in ("agent", "intent", "activity"):
            continue
        if entry.kind == "activity" and ":" not in entry.author:
            continue  # a script's or an MCP client's note, not a hook's run
        name, _, run = entry.author.partition(":")
        work = found.setdefault(
            name,
            {"agent": name, "runs": set(), "prompts": 0, "stops": 0, "files": set(), "lines": [0, 0]},
        )
        work["runs"].add(run)
        work.setdefault("failedCommands", 0)
        if entry.kind == "intent":
            work["prompts"] += 1
        elif entry.kind == "agent" and entry.text == "turn ended":
            work["stops"] += 1
        elif entry.kind == "agent" and _FAILED.search(entry.text):
            work["failedCommands"] += 1
        elif entry.kind == "agent" and (lines := _LINES.match(entry.text)):
            work["lines"][0] += int(lines.group(1))
            work["lines"][1] += int(lines.group(2) or 0)
        work["files"].update(entry.files)
    return [
        {
            "agent": name,
            "runs": len(work["runs"]),
            # A turn starts with a prompt and ends with a stop; either may be missing.
            "turns": max(work["prompts"], work["stops"]),
            "files": len(work["files"]),
            "linesAdded": work["lines"][0],
            "linesRemoved": work["lines"][1],
            "failedCommands": work["failedCommands"],
        }
        for name, work in sorted(found.items())
    ]


def said(work: dict[str, Any]) -> str:
    """``claude-code: 7 turns, 12 files (+140/-20 lines), 2 failed commands``."""

    def count(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    files = count(work["files"], "file")
    if work["linesAdded"] or work["linesRemoved"]:
        files += f" (+{work['linesAdded']}/-{work['linesRemoved']} lines)"
    parts = [count(work["turns"], "turn"), files, count(work["failedCommands"], "failed command")]
    return f"{work['agent']}: {', '.join(parts)}"


MAX_TURN_STEPS = 5  # what an agent did in its last turn, newest kept
MAX_PROMPT = 300


def last_agent_turn(entries: Iterable[Entry]) -> dict[str, Any] | None:
    """The last turn of a coding agent among ``entries`` (oldest first): who, when, its
    prompt, what it did (the newest few steps) and whether the turn ended. None when no
    agent's hook wrote any of them."""
    listed = [e for e in entries if e.author and ":" in e.author and e.kind in ("intent", "agent")]
    if not listed:
        return None
    author = listed[-1].author
    mine = [e for e in listed if e.author == author]
    starts = [i for i, e in enumerate(mine) if e.kind == "intent"]
    turn = mine[starts[-1] :] if starts else mine
    steps = [e.text for e in turn if e.kind == "agent" and e.text != "turn ended"]
    prompt = turn[0].text if turn[0].kind == "intent" else None
    return {
        "author": author,
        "at": turn[0].at,
        "prompt": None if prompt is None else clip(prompt, MAX_PROMPT),
        "did": steps[-MAX_TURN_STEPS:],
        "stepsLeftOut": max(0, len(steps) - MAX_TURN_STEPS),
        "ended": any(e.kind == "agent" and e.text == "turn ended" for e in turn),
    }
