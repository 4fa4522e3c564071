"""``scribe-ls hooks install|uninstall|status``: scribe-ls's hooks in a coding agent's
settings, merged with whatever else is there.

Claude Code reads hooks from ``.claude/settings.json`` (project scope, the default: this
repository only) or ``~/.claude/settings.json`` (user scope), as
``{"hooks": {"<Event>": [{"matcher": "...", "hooks": [{"type": "command", "command": "...",
"timeout": N}]}]}}``; the command gets the event's JSON on stdin and ``$CLAUDE_PROJECT_DIR``
in its environment (https://code.claude.com/docs/en/hooks, "Configuration" and "Hook
input"). Ours are told apart by their command (``<scribe-ls> hook claude-code <Event>``):
install adds or refreshes them, uninstall removes only them, and every other hook, matcher
and key stays as it was. The file is never written through a link, and is replaced
atomically (:mod:`scribe_ls.agents.settings_files`).

Codex, Gemini CLI and Cursor have hook systems of their own; only Claude Code's is wired
here (the closing note of issue 27 says why the others wait).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from .settings_files import InstallError, read_object, write_object

__all__ = ["AGENTS", "EVENTS", "InstallError", "install", "settings_path", "status", "uninstall", "wanted"]

AGENTS = ("claude-code",)
# The events recorded, and the tools whose use is (file edits and writes, shell commands).
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PostToolUse",
    "PostToolUseFailure",
    "Stop",
    "SubagentStop",
    "PreCompact",
    "SessionEnd",
)
TOOLS = "Edit|MultiEdit|Write|NotebookEdit|Bash"
MATCHERS = {"PostToolUse": TOOLS, "PostToolUseFailure": TOOLS}
# Seconds Claude Code gives a hook before it cancels it (ours end long before: a hook
# never holds the agent up; a SessionStart builds a packet).
TIMEOUT = {"SessionStart": 15}
DEFAULT_TIMEOUT = 5
MARK = " hook claude-code "


def scribe_command() -> list[str]:
    """``scribe-ls`` as installed beside this interpreter, by its absolute path (an agent's
    PATH need not hold a virtual environment's bin); else this interpreter with ``-m``."""
    beside = Path(sys.executable).parent / "scribe-ls"
    if beside.is_file():
        return [str(beside)]
    return [sys.executable, "-m", "scribe_ls"]


def hook_command(event: str) -> str:
    return shlex.join([*scribe_command(), "hook", "claude-code", event])


def settings_path(scope: str, root: Path, home: Path | None = None) -> Path:
    if scope == "user":
        return (home or Path.home()) / ".claude" / "settings.json"
    return root / ".claude" / "settings.json"


def wanted() -> dict[str, list[dict[str, Any]]]:
    """Our hooks, as the settings hold them."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in EVENTS:
        group: dict[str, Any] = {"matcher": MATCHERS[event]} if event in MATCHERS else {}
        command = {
            "type": "command",
            "command": hook_command(event),
            "timeout": TIMEOUT.get(event, DEFAULT_TIMEOUT),
        }
        hooks[event] = [group | {"hooks": [command]}]
    return hooks


def _our_commands(hooks: dict[str, Any], event: str) -> list[str]:
    """The commands of our hooks the settings hold for ``event``."""
    groups = hooks.get(event)
    return [
        hook["command"]
        for group in (groups if isinstance(groups, list) else [])
        if isinstance(group, dict) and isinstance(group.get("hooks"), list)
        for hook in group["hooks"]
        if _ours(hook)
    ]


def _ours(hook: Any) -> bool:
    return isinstance(hook, dict) and isinstance(hook.get("command"), str) and MARK in hook["command"] + " "


def _without_ours(hooks: dict[str, Any], path: Path) -> dict[str, Any]:
    """The settings' hooks with ours taken out (groups and events left empty go too)."""
    kept: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            raise InstallError(f"{path}: hooks.{event} is not a list; fix it by hand")
        left = []
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                left.append(group)  # not ours, whatever it is
                continue
            others = [hook for hook in group["hooks"] if not _ours(hook)]
            if others:
                left.append({**group, "hooks": others})
            elif not any(_ours(hook) for hook in group["hooks"]):
                left.append(group)
        if left:
            kept[event] = left
    return kept


def _hooks_of(settings: dict[str, Any], path: Path) -> dict[str, Any]:
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        raise InstallError(f"{path}: hooks is not an object; fix it by hand")
    return hooks


def install(path: Path) -> bool:
    """Add (or refresh) our hooks in the settings at ``path``; whether the file changed."""
    settings = read_object(path)
    hooks = _without_ours(_hooks_of(settings, path), path)
    for event, groups in wanted().items():
        hooks[event] = [*hooks.get(event, []), *groups]
    merged = {**settings, "hooks": hooks}
    if merged == settings:
        return False
    write_object(path, merged)
    return True


def uninstall(path: Path) -> bool:
    """Remove our hooks (only ours) from the settings at ``path``; whether it changed."""
    if not path.exists():
        return False
    settings = read_object(path)
    hooks = _without_ours(_hooks_of(settings, path), path)
    merged = {**settings, "hooks": hooks} if hooks else {k: v for k, v in settings.items() if k != "hooks"}
    if merged == settings:
        return False
    write_object(path, merged)
    return True


def status(path: Path) -> dict[str, Any]:
    """Which of our events the settings at ``path`` hold, and whether they run this
    installation's scribe-ls."""
    try:
        hooks = _hooks_of(read_object(path), path) if path.exists() else {}
    except InstallError as exc:
        return {
            "path": str(path),
            "installed": [],
            "missing": list(EVENTS),
            "current": False,
            "problem": str(exc),
        }
    ours = {event: _our_commands(hooks, event) for event in EVENTS}
    installed = [event for event in EVENTS if ours[event]]
    current = bool(installed) and all(hook_command(event) in ours[event] for event in installed)
    missing = [event for event in EVENTS if event not in installed]
    return {
        "path": str(path),
        "installed": installed,
        "missing": missing,
        "current": current,
    }
