"""What a coding agent's hook event records: the documented JSON payload in, the entries
to write out (kind, text, files), and the answer the agent reads.

Claude Code's payloads (https://code.claude.com/docs/en/hooks, "Hook input"; fixtures in
``tests/data/hooks/claude-code/``): every event has ``session_id``, ``transcript_path``,
``cwd``, ``permission_mode`` and ``hook_event_name``; ``SessionStart`` its ``source``
(startup, resume, clear, compact); ``UserPromptSubmit`` the ``prompt``; ``PostToolUse``
``tool_name``, ``tool_input`` and ``tool_response``; ``PostToolUseFailure`` the same with an
``error`` instead of a response; ``Stop``/``SubagentStop`` ``stop_hook_active`` (and
``agent_type`` in a subagent); ``PreCompact`` its ``trigger``; ``SessionEnd`` its ``reason``.
Anything else in a payload is ignored, anything missing is said as unknown: the payload is
the agent's, read as data.

Pure functions: no store, no process. :mod:`scribe_ls.cli.hook_verbs` runs them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ..model import clip

MAX_COMMAND = 200  # characters of a shell command kept in its entry
MAX_ERROR = 200
_EXIT_RE = re.compile(r"exit(?:ed with)? code:? ?(-?\d+)", re.I)
EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write", "NotebookEdit"})
# Lines compared line by line at most (difflib is quadratic at worst); a bigger edit is
# counted as all its old lines out and all its new lines in, which is what the tool replaced.
MAX_DIFF_LINES = 2000


class HookError(Exception):
    """A payload that cannot be read; the hook says why on stderr and exits 0."""


class Record(NamedTuple):
    """One entry a hook event writes."""

    kind: str  # "intent" (a prompt) or "agent" (what the agent did)
    text: str
    files: tuple[str, ...] = ()


def author_of(agent: str, payload: Mapping[str, Any]) -> str:
    """The entries' author: the agent and its session (``claude-code:8c35adc1``), so two
    runs of one agent (two worktrees, two terminals) are told apart."""
    session = payload.get("session_id")
    tag = re.sub(r"[^\w.-]", "", session)[:12] if isinstance(session, str) else ""
    return f"{agent}:{tag}" if tag else agent


def one_line(value: Any, limit: int) -> str:
    return clip(" ".join(str(value).split()), limit)


def repository_path(root: Path, value: Any) -> str | None:
    """A tool's file as a path inside ``root`` (None for one outside it: never recorded)."""
    if not isinstance(value, str) or not value or "\x00" in value:
        return None
    path = Path(os.path.normpath(value if os.path.isabs(value) else os.path.join(root, value)))
    try:
        text = path.relative_to(root).as_posix()
    except ValueError:
        return None  # outside the repository (normpath took every ".." away first)
    return None if text in ("", ".") else text


def _changed_lines(old: str, new: str) -> tuple[int, int]:
    """(added, removed) lines going from ``old`` to ``new``, counted as git counts them."""
    import difflib  # only an edit's hook pays for it (~1.3 ms of every hook's start-up)

    before, after = old.splitlines(), new.splitlines()
    if len(before) > MAX_DIFF_LINES or len(after) > MAX_DIFF_LINES:
        return len(after), len(before)
    added = removed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if op != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def lines_said(tool: Any, tool_input: Mapping[str, Any]) -> str:
    """`` (+3/-1)``: the lines an edit's payload says it changed; `` (+12)`` for a written
    file (its lines; what it replaced is not in the payload); nothing where the payload does
    not say (a replace-all edit's count of places, a notebook cell)."""

    def strings(edit: Any) -> tuple[str, str] | None:
        if not isinstance(edit, Mapping) or edit.get("replace_all") is True:
            return None
        old, new = edit.get("old_string"), edit.get("new_string")
        return (old, new) if isinstance(old, str) and isinstance(new, str) else None

    if tool == "Write":
        content = tool_input.get("content")
        return f" (+{len(content.splitlines())})" if isinstance(content, str) else ""
    edits = [tool_input] if tool == "Edit" else tool_input.get("edits") if tool == "MultiEdit" else None
    if not isinstance(edits, list) or not edits:
        return ""
    pairs = [strings(edit) for edit in edits]
    if any(pair is None for pair in pairs):
        return ""
    counts = [_changed_lines(*pair) for pair in pairs if pair is not None]
    return f" (+{sum(a for a, _ in counts)}/-{sum(r for _, r in counts)})"


def _edit_records(root: Path, tool: str, tool_input: Mapping[str, Any], error: str | None) -> list[Record]:
    """An edit or write of a file in the repository (Claude Code's tool names); ``error``:
    why it failed (None: it did not)."""
    path = repository_path(root, tool_input.get("file_path") or tool_input.get("notebook_path"))
    if path is None:
        return []
    if error is not None:
        return [Record("agent", f"{tool} of {path} failed: {one_line(error, MAX_ERROR)}")]
    verb = "wrote" if tool == "Write" else "edited"
    return [Record("agent", f"{verb} {path}{lines_said(tool, tool_input)}", (path,))]


def _command_records(tool_input: Mapping[str, Any], status: str | None) -> list[Record]:
    """A shell command and how it ended (``exit 1``, ``interrupted``; None: not said)."""
    command = one_line(tool_input.get("command", ""), MAX_COMMAND)
    if not command:
        return []
    return [Record("agent", f"ran `{command}`" + (f" → {status}" if status else ""))]


def _tool_records(root: Path, payload: Mapping[str, Any], failed: bool) -> list[Record]:
    """Claude Code's PostToolUse (the tool succeeded) or PostToolUseFailure."""
    tool = payload.get("tool_name")
    given = payload.get("tool_input")
    tool_input = given if isinstance(given, Mapping) else {}
    if tool in EDIT_TOOLS:
        return _edit_records(root, tool, tool_input, str(payload.get("error", "")) if failed else None)
    if tool == "Bash":
        if failed:
            found = _EXIT_RE.search(str(payload.get("error", "")))
            status = f"exit {found.group(1)}" if found else "failed"
            return _command_records(tool_input, "interrupted" if payload.get("is_interrupt") else status)
        response = payload.get("tool_response")
        interrupted = isinstance(response, Mapping) and response.get("interrupted") is True
        return _command_records(tool_input, "interrupted" if interrupted else "exit 0")
    return []


# Gemini CLI's tools in Claude Code's names (https://geminicli.com/docs/hooks/, "Tool name
# mapping"; docs/tools/file-system.md and shell.md for their arguments).
GEMINI_TOOLS = {"write_file": "Write", "replace": "Edit", "run_shell_command": "Bash"}
# Its shell tool's result says "Exit Code: N" (or "(none)" after a signal) on a line.
_GEMINI_EXIT = re.compile(r"^Exit Code: (-?\d+)", re.M)


def _gemini_tool_records(root: Path, payload: Mapping[str, Any]) -> list[Record]:
    """Gemini CLI's AfterTool, which comes after a tool ran whether or not it succeeded:
    ``tool_response`` holds ``llmContent`` and, when it failed, ``error``."""
    tool = GEMINI_TOOLS.get(str(payload.get("tool_name")))
    given = payload.get("tool_input")
    tool_input = dict(given) if isinstance(given, Mapping) else {}
    response = payload.get("tool_response")
    content = response.get("llmContent") if isinstance(response, Mapping) else response
    error = response.get("error") if isinstance(response, Mapping) else None
    if isinstance(error, Mapping):
        error = error.get("message", error)
    if tool in ("Write", "Edit"):
        if tool == "Edit" and tool_input.get("expected_replacements") not in (None, 1):
            tool_input["replace_all"] = True  # several places: their count is not said
        return _edit_records(root, tool, tool_input, None if not error else str(error))
    if tool == "Bash":
        found = _GEMINI_EXIT.search(content) if isinstance(content, str) else None
        status = f"exit {found.group(1)}" if found else ("failed" if error else None)
        return _command_records(tool_input, status)
    return []


# Gemini CLI's events as the Claude Code events they are (its "Event name mapping").
GEMINI_EVENTS = {
    "SessionStart": "SessionStart",
    "BeforeAgent": "UserPromptSubmit",
    "AfterTool": "PostToolUse",
    "AfterAgent": "Stop",
    "PreCompress": "PreCompact",
    "SessionEnd": "SessionEnd",
}


def claude_code_event(agent: str, event: str) -> str:
    """``event`` of ``agent`` by Claude Code's name for it (what the rest goes by)."""
    return GEMINI_EVENTS.get(event, event) if agent == "gemini" else event


def records(
    event: str,
    payload: Mapping[str, Any],
    root: Path,
    *,
    capture_prompts: bool = True,
    prompt_chars: int = 500,
    agent: str = "claude-code",
) -> list[Record]:
    """The entries ``agent``'s ``event`` writes (none for an event or tool we do not
    record). Gemini CLI's events are read by their Claude Code names, its payloads being
    the same but for the tools' names and results."""
    if agent == "gemini":
        if event == "AfterTool":
            return _gemini_tool_records(root, payload)
        event = GEMINI_EVENTS.get(event, "")
    if event == "SessionStart":
        source = payload.get("source")
        return [Record("agent", f"agent session {source if isinstance(source, str) else 'started'}")]
    if event == "UserPromptSubmit":
        prompt = payload.get("prompt")
        if not capture_prompts or not isinstance(prompt, str) or not prompt.strip() or prompt_chars == 0:
            return []
        text = prompt.strip()
        return [Record("intent", clip(text, prompt_chars))]
    if event in ("PostToolUse", "PostToolUseFailure"):
        return _tool_records(root, payload, failed=event == "PostToolUseFailure")
    if event == "Stop":
        return [Record("agent", "turn ended")]
    if event == "SubagentStop":
        kind = payload.get("agent_type")
        return [
            Record(
                "agent", f"subagent {one_line(kind, 40)} ended" if isinstance(kind, str) else "subagent ended"
            )
        ]
    if event == "PreCompact":
        trigger = payload.get("trigger")
        return [
            Record(
                "agent",
                f"context compacted ({one_line(trigger, 20) if isinstance(trigger, str) else 'auto'})",
            )
        ]
    if event == "SessionEnd":
        reason = payload.get("reason")
        return [
            Record(
                "agent",
                f"agent session ended ({one_line(reason, 40) if isinstance(reason, str) else 'other'})",
            )
        ]
    return []


def session_start_output(context: str) -> dict[str, Any]:
    """SessionStart's documented answer: text added to the agent's context."""
    return {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}}
