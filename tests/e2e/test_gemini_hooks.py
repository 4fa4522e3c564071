"""Gemini CLI's hooks, as Gemini CLI runs them: `scribe-ls hooks install --agent gemini`
writes `.gemini/settings.json`, and each hook written there is run the way Gemini CLI runs a
command hook (through a shell, the documented payload on stdin, `$GEMINI_PROJECT_DIR` and
`$GEMINI_SESSION_ID` set, stdout read as JSON), on a real git repository and the real store."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.context.tokens import estimate_tokens

from .helpers import LEGACY, make_git_repo, run_cli
from .test_agent_hooks import entries

FIXTURES = LEGACY.parent / "hooks" / "gemini"
PLACEHOLDER = "/home/dev/project"
AUTHOR = "gemini:5f1e2d3c-4b5"


def payload(name: str, root: Path, **changes: Any) -> dict[str, Any]:
    text = (FIXTURES / f"{name}.json").read_text().replace(PLACEHOLDER, str(root))
    return json.loads(text) | changes


def settings(root: Path) -> dict[str, Any]:
    return json.loads((root / ".gemini" / "settings.json").read_text())


def as_gemini(root: Path, event: str, body: dict[str, Any] | str) -> subprocess.CompletedProcess[str]:
    """Run our hook for ``event`` as Gemini CLI does; its stdout must be JSON."""
    (group,) = [g for g in settings(root)["hooks"][event] if " hook gemini " in g["hooks"][0]["command"]]
    hook = group["hooks"][0]
    env = {
        **os.environ,
        "GEMINI_PROJECT_DIR": str(root),
        "CLAUDE_PROJECT_DIR": str(root),  # Gemini CLI sets Claude Code's name as an alias
        "GEMINI_SESSION_ID": "5f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    }
    done = subprocess.run(
        ["sh", "-c", hook["command"]],
        input=body if isinstance(body, str) else json.dumps(body),
        cwd=root, env=env, capture_output=True, text=True, timeout=hook["timeout"] / 1000 + 10,
    )  # fmt: skip
    json.loads(done.stdout)  # "Silence is mandatory": nothing but JSON on stdout
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_git_repo(tmp_path / "project", branch="feature/B-2703-gemini")
    installed = run_cli(root, "hooks", "install", "--agent", "gemini")
    assert installed.returncode == 0, installed.stderr
    assert "Enable Hooks System" in installed.stdout, "a new settings file does not turn Gemini's hooks on"
    return root


def test_each_gemini_hook_records_what_its_payload_says_as_the_agents_own(project: Path) -> None:
    start = as_gemini(project, "SessionStart", payload("SessionStart.startup", project))
    assert start.returncode == 0 and start.stderr == "", start.stderr
    answer = json.loads(start.stdout)["hookSpecificOutput"]
    assert answer["hookEventName"] == "SessionStart" and "B-2703" in answer["additionalContext"]
    assert estimate_tokens(answer["additionalContext"]) <= 1500

    for event, name in (
        ("BeforeAgent", "BeforeAgent"),
        ("AfterTool", "AfterTool.write_file"),
        ("AfterTool", "AfterTool.replace"),
        ("AfterTool", "AfterTool.run_shell_command"),
        ("AfterTool", "AfterTool.read_file"),
        ("PreCompress", "PreCompress"),
        ("AfterAgent", "AfterAgent"),
        ("SessionEnd", "SessionEnd"),
    ):
        done = as_gemini(project, event, payload(name, project))
        assert done.returncode == 0 and done.stdout.strip() == "{}" and done.stderr == "", (name, done.stderr)

    agent = [(e["kind"], e["text"], e["files"]) for e in entries(project) if e["author"]]
    assert {e["author"] for e in entries(project) if e["author"]} == {AUTHOR}
    assert agent == [
        ("agent", "agent session startup", []),
        ("intent", "Cache the context packet per HEAD and add a test for it", []),
        ("agent", "wrote src/cache.py (+1)", ["src/cache.py"]),
        ("agent", "edited README.md (+1/-1)", ["README.md"]),
        ("agent", "ran `pytest -q tests/test_cache.py` → exit 1", []),
        ("agent", "context compacted (auto)", []),
        ("agent", "turn ended", []),
        ("agent", "agent session ended (exit)", []),
    ]
    standup = json.loads(run_cli(project, "report", "standup", "--json").stdout)
    (item,) = standup["items"]
    assert item["agents"] == [
        {
            "agent": "gemini",
            "runs": 1,
            "turns": 1,
            "files": 2,
            "linesAdded": 2,
            "linesRemoved": 1,
            "failedCommands": 1,
        }
    ]
    worklog = (project / ".scribe" / "worklogs" / "B-2703.md").read_text()
    assert f"- Prompt: Cache the context packet per HEAD and add a test for it (by {AUTHOR})" in worklog


def test_gemini_resuming_gets_where_the_work_stands(project: Path) -> None:
    assert run_cli(project, "start").returncode == 0
    assert run_cli(project, "append", "--kind", "decision", "key the cache by HEAD").returncode == 0
    done = as_gemini(project, "SessionStart", payload("SessionStart.resume", project))
    context = json.loads(done.stdout)["hookSpecificOutput"]["additionalContext"]
    assert context.startswith("# Resume B-2703") and "key the cache by HEAD" in context


def test_a_malformed_gemini_payload_or_a_broken_store_still_answers_json_and_exits_0(project: Path) -> None:
    done = as_gemini(project, "AfterAgent", "{not json")
    assert done.returncode == 0 and done.stdout.strip() == "{}"
    assert len(done.stderr.splitlines()) == 1 and "not JSON" in done.stderr
    (project / ".scribe").mkdir(exist_ok=True)
    (project / ".scribe" / "scribe.db").mkdir()  # a directory where the database should be
    broken = as_gemini(project, "AfterTool", payload("AfterTool.write_file", project))
    assert broken.returncode == 0 and broken.stdout.strip() == "{}"
    assert len(broken.stderr.splitlines()) == 1 and "scribe-ls hook gemini AfterTool" in broken.stderr


def test_gemini_hooks_sit_beside_claude_codes_and_each_uninstall_takes_only_its_own(tmp_path: Path) -> None:
    root = make_git_repo(tmp_path / "repo")
    (root / ".gemini").mkdir()
    theirs = {"tools": {"enableHooks": True}, "hooks": {"disabled": ["x"]}, "theme": "Dracula"}
    (root / ".gemini" / "settings.json").write_text(json.dumps(theirs))
    shown = run_cli(root, "hooks", "install", "--agent", "gemini", "--print")
    assert '"AfterTool"' in shown.stdout and "hook gemini AfterTool" in shown.stdout
    assert json.loads((root / ".gemini" / "settings.json").read_text()) == theirs, "--print writes nothing"
    installed = run_cli(root, "hooks", "install", "--agent", "gemini")
    assert installed.returncode == 0 and "Enable Hooks System" not in installed.stdout, "it is on already"
    assert run_cli(root, "hooks", "install").returncode == 0  # Claude Code's too
    status = json.loads(run_cli(root, "hooks", "status", "--agent", "gemini", "--json").stdout)
    assert status["agent"] == "gemini" and status["missing"] == [] and status["current"] is True
    assert "gemini: 6 hooks in" in run_cli(root, "hooks", "status", "--agent", "gemini").stdout
    assert run_cli(root, "hooks", "uninstall", "--agent", "gemini").returncode == 0
    assert json.loads((root / ".gemini" / "settings.json").read_text()) == theirs
    assert "claude-code: 8 hooks in" in run_cli(root, "hooks", "status").stdout
    refused = run_cli(root, "hooks", "install", "--agent", "codex")
    assert refused.returncode == 2 and "invalid choice: 'codex'" in refused.stderr
