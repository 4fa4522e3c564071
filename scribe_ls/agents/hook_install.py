"""``scribe-ls hooks install|uninstall|status``: scribe-ls's hooks in a coding agent's
settings, merged with whatever else is there.

Claude Code reads hooks from ``.claude/settings.json`` (project scope, the default: this
repository only) or ``~/.claude/settings.json`` (user scope), as
``{"hooks": {"<Event>": [{"matcher": "...", "hooks": [{"type": "command", "command": "...",
"timeout": N}]}]}}``; the command gets the event's JSON on stdin and ``$CLAUDE_PROJECT_DIR``
in its environment (https://code.claude.com/docs/en/hooks, "Configuration" and "Hook
input"). Gemini CLI reads the same shape from ``.gemini/settings.json`` or
``~/.gemini/settings.json``, with its own event names, a ``name`` per hook and timeouts in
milliseconds, and runs hooks once its hooks system is on (``tools.enableHooks``)
(https://geminicli.com/docs/hooks/, "Configuration"; google-gemini/gemini-cli
docs/hooks/index.md and reference.md).

Ours are told apart by their command (``<scribe-ls> hook <agent> <Event>``): install adds
or refreshes them, uninstall removes only them, and every other hook, matcher and key stays
as it was. The file is never written through a link, and is replaced atomically
(:mod:`scribe_ls.agents.settings_files`).

Codex and Cursor have hook systems of their own, not wired here (the closing note of issue
27 says why).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .settings_files import InstallError, read_object, scribe_command, write_object

__all__ = [
    "AGENTS",
    "CLAUDE_CODE",
    "GEMINI",
    "AgentHooks",
    "InstallError",
    "install",
    "settings_path",
    "status",
    "uninstall",
    "wanted",
]


@dataclass(frozen=True, slots=True)
class AgentHooks:
    """How one agent's settings hold our hooks."""

    name: str  # as the CLI spells it: `hooks install --agent NAME`, `hook NAME EVENT`
    folder: str  # the settings' folder, in the repository or the home directory
    events: tuple[str, ...]  # the events recorded, in the agent's own names
    matchers: dict[str, str]  # event -> the tools whose use is recorded
    # How long the agent lets a hook run before it cancels it (ours end long before: a
    # hook never holds the agent up; a SessionStart builds a packet), in the agent's unit.
    timeouts: dict[str, int] = field(default_factory=dict)
    default_timeout: int = 5
    named: bool = False  # each hook carries a "name" (Gemini CLI enables and disables by it)

    @property
    def mark(self) -> str:
        return f" hook {self.name} "


CLAUDE_CODE = AgentHooks(
    "claude-code",
    ".claude",
    (
        "SessionStart",
        "UserPromptSubmit",
        "PostToolUse",
        "PostToolUseFailure",
        "Stop",
        "SubagentStop",
        "PreCompact",
        "SessionEnd",
    ),
    {
        "PostToolUse": "Edit|MultiEdit|Write|NotebookEdit|Bash",
        "PostToolUseFailure": "Edit|MultiEdit|Write|NotebookEdit|Bash",
    },
    {"SessionStart": 15},  # seconds
)
GEMINI = AgentHooks(
    "gemini",
    ".gemini",
    ("SessionStart", "BeforeAgent", "AfterTool", "AfterAgent", "PreCompress", "SessionEnd"),
    {"AfterTool": "write_file|replace|run_shell_command"},
    {"SessionStart": 15000},  # milliseconds
    default_timeout=5000,
    named=True,
)
AGENTS = {agent.name: agent for agent in (CLAUDE_CODE, GEMINI)}


def hook_command(event: str, agent: AgentHooks = CLAUDE_CODE) -> str:
    return shlex.join([*scribe_command(), "hook", agent.name, event])


def settings_path(scope: str, root: Path, home: Path | None = None, agent: AgentHooks = CLAUDE_CODE) -> Path:
    if scope == "user":
        return (home or Path.home()) / agent.folder / "settings.json"
    return root / agent.folder / "settings.json"


def wanted(agent: AgentHooks = CLAUDE_CODE) -> dict[str, list[dict[str, Any]]]:
    """Our hooks, as the settings hold them."""
    hooks: dict[str, list[dict[str, Any]]] = {}
    for event in agent.events:
        group: dict[str, Any] = {"matcher": agent.matchers[event]} if event in agent.matchers else {}
        command: dict[str, Any] = {"name": f"scribe-ls-{event}"} if agent.named else {}
        command |= {
            "type": "command",
            "command": hook_command(event, agent),
            "timeout": agent.timeouts.get(event, agent.default_timeout),
        }
        if agent.named:
            command["description"] = "scribe-ls records this event on the backlog item's session"
        hooks[event] = [group | {"hooks": [command]}]
    return hooks


def hooks_enabled(path: Path, agent: AgentHooks) -> bool | None:
    """Gemini CLI: whether the settings at ``path`` turn its hooks system on
    (``tools.enableHooks``); None where the file does not say (or for another agent)."""
    if agent is not GEMINI or not path.exists():
        return None
    try:
        tools = read_object(path).get("tools")
    except InstallError:
        return None
    value = tools.get("enableHooks") if isinstance(tools, dict) else None
    return value if isinstance(value, bool) else None


def _our_commands(hooks: dict[str, Any], event: str, agent: AgentHooks) -> list[str]:
    """The commands of our hooks the settings hold for ``event``."""
    groups = hooks.get(event)
    return [
        hook["command"]
        for group in (groups if isinstance(groups, list) else [])
        if isinstance(group, dict) and isinstance(group.get("hooks"), list)
        for hook in group["hooks"]
        if _ours(hook, agent)
    ]


def _ours(hook: Any, agent: AgentHooks) -> bool:
    return (
        isinstance(hook, dict)
        and isinstance(hook.get("command"), str)
        and agent.mark in hook["command"] + " "
    )


def _without_ours(hooks: dict[str, Any], path: Path, agent: AgentHooks) -> dict[str, Any]:
    """The settings' hooks with ours taken out (groups and events left empty go too)."""
    kept: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            if event in agent.events:
                raise InstallError(f"{path}: hooks.{event} is not a list; fix it by hand")
            kept[event] = groups  # another key of the agent's (Gemini CLI's "disabled"...)
            continue
        left = []
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                left.append(group)  # not ours, whatever it is
                continue
            others = [hook for hook in group["hooks"] if not _ours(hook, agent)]
            if others:
                left.append({**group, "hooks": others})
            elif not any(_ours(hook, agent) for hook in group["hooks"]):
                left.append(group)
        if left:
            kept[event] = left
    return kept


def _hooks_of(settings: dict[str, Any], path: Path) -> dict[str, Any]:
    hooks = settings.get("hooks", {})
    if not isinstance(hooks, dict):
        raise InstallError(f"{path}: hooks is not an object; fix it by hand")
    return hooks


def install(path: Path, agent: AgentHooks = CLAUDE_CODE) -> bool:
    """Add (or refresh) our hooks in the settings at ``path``; whether the file changed."""
    settings = read_object(path)
    hooks = _without_ours(_hooks_of(settings, path), path, agent)
    for event, groups in wanted(agent).items():
        hooks[event] = [*hooks.get(event, []), *groups]
    merged = {**settings, "hooks": hooks}
    if merged == settings:
        return False
    write_object(path, merged)
    return True


def uninstall(path: Path, agent: AgentHooks = CLAUDE_CODE) -> bool:
    """Remove our hooks (only ours) from the settings at ``path``; whether it changed."""
    if not path.exists():
        return False
    settings = read_object(path)
    hooks = _without_ours(_hooks_of(settings, path), path, agent)
    merged = {**settings, "hooks": hooks} if hooks else {k: v for k, v in settings.items() if k != "hooks"}
    if merged == settings:
        return False
    write_object(path, merged)
    return True


def status(path: Path, agent: AgentHooks = CLAUDE_CODE) -> dict[str, Any]:
    """Which of our events the settings at ``path`` hold, and whether they run this
    installation's scribe-ls."""
    events = agent.events
    try:
        hooks = _hooks_of(read_object(path), path) if path.exists() else {}
    except InstallError as exc:
        return {
            "agent": agent.name,
            "path": str(path),
            "installed": [],
            "missing": list(events),
            "current": False,
            "problem": str(exc),
        }
    ours = {event: _our_commands(hooks, event, agent) for event in events}
    installed = [event for event in events if ours[event]]
    current = bool(installed) and all(hook_command(event, agent) in ours[event] for event in installed)
    missing = [event for event in events if event not in installed]
    return {
        "agent": agent.name,
        "path": str(path),
        "installed": installed,
        "missing": missing,
        "current": current,
    }
