"""Whose saves these were: a coding agent's, when its hook said it wrote those files a
moment before (an ``agent`` entry naming them, heard as ``scribe/entryAdded`` from the
process that ran the hook), else the person's.

The recorder writes one activity entry per window; by the time it does, the hook's entry
(written right after the agent's tool returned) has been heard, so the paths the agent
wrote go into an entry of the agent's and the rest stay the person's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..core.events import ENTRY_ADDED

# How long after an agent said it wrote a file a save of that file is still its own
# (the recorder's window, 10 s by default, plus the hook's own start).
AGENT_WINDOW = 30.0
# An agent and the person changing one file this close together are told about it.
BOTH_WINDOW = 600.0
MAX_PATHS = 5000  # paths remembered at most (bounded whatever an agent does)


class AgentPaths:
    def __init__(self) -> None:
        self._written: dict[str, tuple[str, float]] = {}  # path -> (author, monotonic time)
        self._persons: dict[str, float] = {}  # path -> when the person last saved it
        self._told: set[tuple[str, str]] = set()  # (agent, path) overlaps said already

    def heard(self, notification: Any) -> None:
        """A listener: remember the files of an agent's ``agent`` entries."""
        if notification.method != ENTRY_ADDED:
            return
        entry = notification.params.get("entry", {})
        author = entry.get("author")
        if entry.get("kind") != "agent" or not author or not entry.get("files"):
            return
        now = time.monotonic()
        if len(self._written) + len(entry["files"]) > MAX_PATHS:
            self._written = {p: w for p, w in self._written.items() if now - w[1] < BOTH_WINDOW}
        for path in entry["files"][:MAX_PATHS]:
            self._written.pop(path, None)  # newest last: the dict's order is the age
            self._written[path] = (author, now)

    def split(self, paths: Sequence[str]) -> tuple[list[str], dict[str, list[str]], list[str]]:
        """``paths`` as (the person's, {agent: its paths}, what to tell: a file an agent and
        the person both changed within BOTH_WINDOW, once per agent and file)."""
        now = time.monotonic()
        person: list[str] = []
        agents: dict[str, list[str]] = {}
        both: list[tuple[str, str]] = []
        for path in paths:
            written = self._written.get(path)
            if written is not None and now - written[1] <= AGENT_WINDOW:
                agents.setdefault(written[0], []).append(path)
                if now - self._persons.get(path, -BOTH_WINDOW * 2) <= BOTH_WINDOW:
                    both.append((written[0], path))
            else:
                person.append(path)
                if written is not None and now - written[1] <= BOTH_WINDOW:
                    both.append((written[0], path))
        for path in person:
            if len(self._persons) >= MAX_PATHS:
                self._persons = {p: t for p, t in self._persons.items() if now - t < BOTH_WINDOW}
            self._persons.pop(path, None)
            self._persons[path] = now
        told = [pair for pair in dict.fromkeys(both) if pair not in self._told]
        if len(self._told) > MAX_PATHS:
            self._told.clear()
        self._told.update(told)
        said = [
            f"{agent} and you both changed {path} in the last {int(BOTH_WINDOW // 60)} minutes"
            for agent, path in told
        ]
        return person, agents, said
