"""``scribe-ls hook <agent> <event>`` (what an agent's hook runs) and ``scribe-ls hooks``
(installing them).

A hook never blocks or breaks the agent: whatever goes wrong (no store, a locked or
read-only one, a malformed payload), it exits 0 with one line on stderr, and the reason is
logged. Every event but SessionStart takes the lean path (no event loop); SessionStart
also answers with the budgeted context for the repository's current item.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..agents.hooks import HookError, author_of, claude_code_event, records, session_start_output
from ..errors import ScribeError
from ..lazylog import escape_controls, get_logger

log = get_logger(__name__)

# Bytes of a payload read: a Write's payload holds the whole file it wrote (not ours to
# keep, but the edit is recorded), so the bound is the protocol's own message cap.
MAX_PAYLOAD = 16 << 20
# The events that are the agent's work (by Claude Code's names): they start a session on
# the branch's item when none is open. A turn's end, a compaction or the agent's exit only
# join an open one.
STARTS_A_SESSION = frozenset({"SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure"})
# Where each agent tells its hooks the project is (Gemini CLI sets Claude Code's name too).
PROJECT_DIR = {"claude-code": "CLAUDE_PROJECT_DIR", "gemini": "GEMINI_PROJECT_DIR"}


def run_hook(args: argparse.Namespace) -> int:
    """Record what ``args.event`` says; always 0."""
    _log_to_the_store(args)
    context: str | None = None
    try:
        payload = _payload(sys.stdin.buffer.read(MAX_PAYLOAD + 1))
        root = _root(args, payload)
        context = _record(args.agent, args.event, payload, root)
    except (HookError, ScribeError, OSError, ValueError, RuntimeError) as exc:
        reason = exc.message if isinstance(exc, ScribeError) else str(exc)
        print(f"scribe-ls hook {args.agent} {args.event}: {escape_controls(reason)}", file=sys.stderr)
        log.warning("hook %s %s not recorded: %s", args.agent, args.event, reason)
    except Exception as exc:  # a hook must never break the agent: said, logged, exit 0
        print(f"scribe-ls hook {args.agent} {args.event}: {type(exc).__name__}: {exc}", file=sys.stderr)
        log.exception("hook %s %s failed", args.agent, args.event)
    if context is not None:
        print(json.dumps(session_start_output(context), ensure_ascii=False))
    elif args.agent == "gemini":
        print("{}")  # Gemini CLI reads a hook's stdout as JSON, also when nothing was said
    return 0


def _log_to_the_store(args: argparse.Namespace) -> None:
    """Log records go to the log file of the repository the hook is for, when it has a
    store (stderr carries the one line the agent shows; the log keeps the reason)."""
    from ..lazylog import defer_setup

    guess = _given_root(args) or "."

    def setup() -> None:  # when the first record is logged: logging costs a hook's start-up
        import logging

        from ..config import load_config
        from ..logs import setup_logging
        from ..store.layout import Layout, find_repo_root

        try:
            root = find_repo_root(Path(guess))
            layout = Layout(root)
            if layout.exists():
                setup_logging(layout, load_config(root, layout), stderr=False)
                return
        except (OSError, ScribeError):
            pass
        logging.getLogger().addHandler(logging.NullHandler())  # no store: the stderr line is all

    defer_setup(setup)


def _given_root(args: argparse.Namespace) -> str | None:
    """``--root`` if given, else the project the agent says it works in."""
    if args.root != ".":
        return str(args.root)
    return os.environ.get(PROJECT_DIR.get(args.agent, "CLAUDE_PROJECT_DIR")) or None


def _payload(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_PAYLOAD:
        raise HookError(f"the payload is over {MAX_PAYLOAD} bytes; not read")
    try:
        payload = json.loads(raw.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HookError(f"the payload is not JSON ({exc})") from None
    if not isinstance(payload, dict):
        raise HookError("the payload is not a JSON object")
    return payload


def _root(args: argparse.Namespace, payload: dict[str, Any]) -> Path:
    """The repository: ``--root`` if given, else the project the agent says it works in
    (``$CLAUDE_PROJECT_DIR``), else the payload's ``cwd``."""
    from ..store.layout import find_repo_root

    cwd = payload.get("cwd")
    where = _given_root(args) or (cwd if isinstance(cwd, str) and cwd else ".")
    path = Path(where)
    if not path.is_dir():
        raise HookError(f"no such directory: {where}")
    return find_repo_root(path)


def _record(agent: str, event: str, payload: dict[str, Any], root: Path) -> str | None:
    """Write the event's entries in the current session (started on the branch's item if
    there is none and the event is the agent's work); for SessionStart, the context to give
    the agent."""
    from ..config import load_config
    from ..core.operations import Ledger
    from ..store.database import Store
    from ..store.layout import Layout
    from ..store.opening import store_errors

    layout = Layout(root)
    config = load_config(root, layout)
    found = records(
        event,
        payload,
        root,
        capture_prompts=config.capture_prompts,
        prompt_chars=config.prompt_chars,
        agent=agent,
    )
    store = Store(root, origin=f"{os.getpid()}-{os.urandom(3).hex()}", layout=layout)
    ledger = Ledger(store, config)
    try:
        with store_errors(store.dir):
            store.open()
            session = ledger.current_session()
            if session is None and found and claude_code_event(agent, event) in STARTS_A_SESSION:
                session = ledger.start_session().session
            author = author_of(agent, payload)
            if session is not None:
                for record in found:
                    ledger.append_entry(record.text, record.kind, session.id, record.files, author=author)
    finally:
        store.close()
    if event != "SessionStart":
        return None
    source = payload.get("source")
    return agent_context(root, config, source if isinstance(source, str) else "startup")


def agent_context(root: Path, config: Any, source: str) -> str:
    """The context an agent starts with, within ``agent_context_tokens``: where the item's
    work stands (the resume packet) after a resume or a compaction, else the context
    packet. Data from the repository, quoted as every packet is."""
    import asyncio

    from ..context.packet_text import packet_text
    from ..context.tokens import estimate_tokens
    from ..core.service import Scribe

    budget = config.agent_context_tokens

    async def build() -> str:
        async with Scribe(root, config=config, daemon=False) as scribe:
            if source in ("resume", "compact"):
                try:
                    return fit_tokens((await scribe.resume())["markdown"], budget, estimate_tokens)
                except ScribeError:
                    pass  # no session to resume: the packet says what there is
            text, _ = await packet_text(scribe, max_chars=budget * 4, max_tokens=budget, etag_line=False)
            return text

    return asyncio.run(build())


def fit_tokens(text: str, budget: int, estimate: Any) -> str:
    """``text`` cut at a line to at most ``budget`` estimated tokens, saying so."""
    if estimate(text) <= budget:
        return text
    note = "\n\n(cut to fit {budget} tokens: `scribe-ls resume` shows the rest)"
    lines = text.splitlines()
    while lines and estimate("\n".join(lines) + note) > budget:
        lines.pop()
    return "\n".join(lines) + note.format(budget=budget)


def hooks(args: argparse.Namespace) -> int:
    """``scribe-ls hooks install|uninstall|status [--agent NAME]``."""
    from ..agents import hook_install
    from ..store.layout import find_repo_root

    agent = hook_install.AGENTS[args.agent]
    root = find_repo_root(Path(args.root))
    path = hook_install.settings_path(args.scope, root, agent=agent)
    if args.action == "status":
        found = hook_install.status(path, agent)
        if args.json:
            print(json.dumps(found, indent=2))
        elif found["installed"]:
            current = "" if found["current"] else " (another scribe-ls: run hooks install again)"
            print(f"{agent.name}: {len(found['installed'])} hooks in {path}{current}")
            if found["missing"]:
                print(f"  missing: {', '.join(found['missing'])}")
        else:
            print(f"{agent.name}: no scribe-ls hooks in {path}")
        return 0
    if args.print_only:
        print(f"# merged into {path}")
        print(json.dumps({"hooks": hook_install.wanted(agent)}, indent=2))
        return 0
    try:
        if args.action == "install":
            changed = hook_install.install(path, agent)
        else:
            changed = hook_install.uninstall(path, agent)
    except (hook_install.InstallError, OSError) as exc:
        print(f"scribe-ls: hooks {args.action}: {exc}", file=sys.stderr)
        return 1
    if args.action == "uninstall":
        print(f"{'removed scribe-ls hooks from' if changed else 'no scribe-ls hooks in'} {path}")
        return 0
    print(f"{'added scribe-ls hooks to' if changed else 'already in'} {path}")
    if agent is hook_install.GEMINI and hook_install.hooks_enabled(path, agent) is not True:
        # Said, not done: the switch turns on every hook of every file, not only ours.
        print(
            "Gemini CLI runs hooks once its hooks system is on: /settings, Advanced,"
            ' "Enable Hooks System" (tools.enableHooks in settings.json)'
        )
    return 0
