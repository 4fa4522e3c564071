"""A coding agent's hooks, as the agent runs them: `scribe-ls hooks install` writes Claude
Code's settings, and each hook written there is run exactly as Claude Code would (its
command line, the documented payload on stdin, `$CLAUDE_PROJECT_DIR`), on a real git
repository and the real store."""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.context.tokens import estimate_tokens

from .helpers import LEGACY, configure, drop_tables_after, git, make_git_repo, run_cli, wait_until

FIXTURES = LEGACY.parent / "hooks" / "claude-code"
PLACEHOLDER = "/home/dev/project"


def payload(name: str, root: Path, **changes: Any) -> dict[str, Any]:
    """A documented payload (tests/data/hooks/claude-code), about ``root``."""
    text = (FIXTURES / f"{name}.json").read_text().replace(PLACEHOLDER, str(root))
    return json.loads(text) | changes


def settings(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claude" / "settings.json").read_text())


def as_claude_code(root: Path, event: str, body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run the hook the settings hold for ``event`` as Claude Code does: its command line
    through a shell, the payload on stdin, the project in ``$CLAUDE_PROJECT_DIR``, from the
    project's directory."""
    (group,) = [g for g in settings(root)["hooks"][event] if "claude-code" in g["hooks"][0]["command"]]
    command = group["hooks"][0]["command"]
    env = {**os.environ, "CLAUDE_PROJECT_DIR": str(root)}
    return subprocess.run(
        ["sh", "-c", command],
        input=json.dumps(body),
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=group["hooks"][0]["timeout"] + 10,
    )


def entries(root: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    db.row_factory = sqlite3.Row
    rows = db.execute("SELECT kind, text, files, author FROM entries ORDER BY id").fetchall()
    db.close()
    return [dict(row) | {"files": json.loads(row["files"])} for row in rows]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = make_git_repo(tmp_path / "project", branch="feature/B-2701-agent-cache")
    assert run_cli(root, "hooks", "install").returncode == 0
    return root


def test_install_merges_our_hooks_and_keeps_every_other_one(tmp_path: Path) -> None:
    root = make_git_repo(tmp_path / "repo")
    theirs = {"command": "npx prettier --write", "type": "command"}
    (root / ".claude").mkdir()
    (root / ".claude" / "settings.json").write_text(
        json.dumps({"model": "opus", "hooks": {"PostToolUse": [{"matcher": "Write", "hooks": [theirs]}]}})
    )
    shown = run_cli(root, "hooks", "install", "--print")
    assert shown.returncode == 0 and '"PostToolUse"' in shown.stdout
    assert "claude-code" not in (root / ".claude" / "settings.json").read_text(), "--print writes nothing"

    assert "added scribe-ls hooks" in run_cli(root, "hooks", "install").stdout
    written = settings(root)
    assert written["model"] == "opus"
    assert set(written["hooks"]) == {
        "SessionStart", "UserPromptSubmit", "PostToolUse", "PostToolUseFailure",
        "Stop", "SubagentStop", "PreCompact", "SessionEnd",
    }  # fmt: skip
    post = written["hooks"]["PostToolUse"]
    assert post[0] == {"matcher": "Write", "hooks": [theirs]}, "another tool's hook is untouched"
    ours = post[1]
    assert ours["matcher"] == "Edit|MultiEdit|Write|NotebookEdit|Bash"
    argv = shlex.split(ours["hooks"][0]["command"])
    assert Path(argv[0]).is_absolute() and argv[-3:] == ["hook", "claude-code", "PostToolUse"]
    assert "already in" in run_cli(root, "hooks", "install").stdout
    status = json.loads(run_cli(root, "hooks", "status", "--json").stdout)
    assert status["missing"] == [] and status["current"] is True

    assert "removed scribe-ls hooks" in run_cli(root, "hooks", "uninstall").stdout
    assert settings(root) == {
        "model": "opus",
        "hooks": {"PostToolUse": [{"matcher": "Write", "hooks": [theirs]}]},
    }
    assert "no scribe-ls hooks" in run_cli(root, "hooks", "status").stdout


def test_user_scope_goes_to_the_home_settings_and_a_link_is_never_written_through(tmp_path: Path) -> None:
    root = make_git_repo(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run(
        ["python", "-m", "scribe_ls", "hooks", "install", "--scope", "user"],
        cwd=root, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "SessionStart" in json.loads((home / ".claude" / "settings.json").read_text())["hooks"]
    assert not (root / ".claude").exists()

    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    (root / ".claude").mkdir()
    (root / ".claude" / "settings.json").symlink_to(target)
    refused = run_cli(root, "hooks", "install")
    assert refused.returncode == 1 and "symbolic link" in refused.stderr
    assert target.read_text() == "{}"


def test_each_hook_records_what_its_payload_says_as_the_agents_own(project: Path) -> None:
    start = as_claude_code(project, "SessionStart", payload("SessionStart.startup", project))
    assert start.returncode == 0, start.stderr
    answer = json.loads(start.stdout)["hookSpecificOutput"]
    assert answer["hookEventName"] == "SessionStart"
    assert "B-2701" in answer["additionalContext"]
    assert estimate_tokens(answer["additionalContext"]) <= 1500

    for event, name in (
        ("UserPromptSubmit", "UserPromptSubmit"),
        ("PostToolUse", "PostToolUse.Write"),
        ("PostToolUse", "PostToolUse.Edit"),
        ("PostToolUse", "PostToolUse.Bash"),
        ("PostToolUseFailure", "PostToolUseFailure.Bash"),
        ("PreCompact", "PreCompact"),
        ("SubagentStop", "SubagentStop"),
        ("Stop", "Stop"),
        ("SessionEnd", "SessionEnd"),
    ):
        done = as_claude_code(project, event, payload(name, project))
        assert done.returncode == 0 and done.stdout == "" and done.stderr == "", (name, done.stderr)

    agent = [e for e in entries(project) if e["author"]]
    assert {e["author"] for e in agent} == {"claude-code:8c35adc1-5d0"}
    assert [(e["kind"], e["text"], e["files"]) for e in agent] == [
        ("agent", "agent session startup", []),
        ("intent", "Cache the context packet per HEAD and add a test for it", []),
        ("agent", "wrote src/cache.py (+1)", ["src/cache.py"]),
        ("agent", "edited README.md (+1/-1)", ["README.md"]),
        ("agent", "ran `pytest -q tests/test_cache.py` → exit 0", []),
        ("agent", "ran `pytest -q tests/test_cache.py` → exit 1", []),
        ("agent", "context compacted (auto)", []),
        ("agent", "subagent code-reviewer ended", []),
        ("agent", "turn ended", []),
        ("agent", "agent session ended (prompt_input_exit)", []),
    ]
    worklog = (project / ".scribe" / "worklogs" / "B-2701.md").read_text()
    assert "- Prompt: Cache the context packet per HEAD" in worklog
    assert "- Agent: wrote src/cache.py (+1) (by claude-code:8c35adc1-5d0)" in worklog
    standup = json.loads(run_cli(project, "report", "standup", "--json").stdout)
    (item,) = standup["items"]
    work = {"agent": "claude-code", "runs": 1, "turns": 1, "files": 2}
    work |= {"linesAdded": 2, "linesRemoved": 1, "failedCommands": 1}
    assert item["agents"] == [work]
    said = run_cli(project, "report", "standup").stdout
    assert "claude-code: 1 turn, 2 files (+2/-1 lines), 1 failed command" in said
    packet = json.loads(run_cli(project, "context", "--format", "json").stdout)
    turn = packet["sections"]["session"]["data"]["lastAgentTurn"]
    assert turn["prompt"] == "Cache the context packet per HEAD and add a test for it"
    assert turn["did"][1] == "ran `pytest -q tests/test_cache.py` → exit 1" and turn["ended"] is True
    assert turn["stepsLeftOut"] == 2, "the turn's first steps (the writes) are counted, not listed"
    text = run_cli(project, "context").stdout
    assert "Last agent turn (claude-code:8c35adc1-5d0" in text and "asked Cache the context packet" in text


def test_resuming_gives_the_agent_where_the_work_stands_within_the_budget(project: Path) -> None:
    configure(project, "agent_context_tokens = 300\n")
    run_cli(project, "start")
    for n in range(40):
        run_cli(
            project,
            "append",
            f"decided to keep variant {n} of the cache key: " + "x" * 80,
            "--kind",
            "decision",
        )
    done = as_claude_code(project, "SessionStart", payload("SessionStart.resume", project))
    context = json.loads(done.stdout)["hookSpecificOutput"]["additionalContext"]
    assert context.startswith("# Resume B-2701")
    assert estimate_tokens(context) <= 300
    assert "cut to fit 300 tokens" in context, "a cut context says so"


def test_prompts_stay_out_when_the_repository_says_so(project: Path) -> None:
    configure(project, "capture_prompts = false\n")
    assert as_claude_code(project, "UserPromptSubmit", payload("UserPromptSubmit", project)).returncode == 0
    assert not [e for e in entries(project) if e["kind"] == "intent"]


def test_a_secret_in_a_command_is_redacted(project: Path) -> None:
    body = payload("PostToolUse.Bash", project)
    body["tool_input"]["command"] = (
        "curl -H 'Authorization: Bearer ghp_0123456789abcdefghijklmnopqrstuvwxyz' x"
    )
    assert as_claude_code(project, "PostToolUse", body).returncode == 0
    (entry,) = [e for e in entries(project) if e["kind"] == "agent"]
    assert "ghp_" not in entry["text"] and "[REDACTED]" in entry["text"]


def test_a_file_outside_the_repository_is_never_recorded(project: Path) -> None:
    body = payload("PostToolUse.Write", project)
    body["tool_input"]["file_path"] = str(project.parent / "other" / "x.py")
    assert as_claude_code(project, "PostToolUse", body).returncode == 0
    body["tool_input"]["file_path"] = str(project / ".." / "escape.py")
    assert as_claude_code(project, "PostToolUse", body).returncode == 0
    assert [e for e in entries(project) if e["kind"] == "agent"] == []


@pytest.mark.parametrize(
    ("stdin", "said"),
    [("not json", "not JSON"), ("[1, 2]", "not a JSON object"), ("\udcff", "not JSON")],
)
def test_a_malformed_payload_exits_0_with_one_line(project: Path, stdin: str, said: str) -> None:
    (group,) = settings(project)["hooks"]["Stop"]
    done = subprocess.run(
        ["sh", "-c", group["hooks"][0]["command"]],
        input=stdin.encode("utf-8", "surrogateescape"),
        cwd=project, env={**os.environ, "CLAUDE_PROJECT_DIR": str(project)}, capture_output=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and said in lines[0]


def test_a_store_that_cannot_be_used_still_exits_0(project: Path) -> None:
    (project / ".scribe").mkdir(exist_ok=True)
    (project / ".scribe" / "scribe.db").mkdir()  # a directory where the database should be
    done = as_claude_code(project, "PostToolUse", payload("PostToolUse.Write", project))
    assert done.returncode == 0
    assert len(done.stderr.splitlines()) == 1 and "scribe-ls hook claude-code PostToolUse" in done.stderr


def test_a_store_of_schema_9_takes_the_agents_kinds_and_keeps_its_entries(tmp_path: Path) -> None:
    from scribe_ls.store import schema

    root = make_git_repo(tmp_path / "old")
    assert run_cli(root, "start").returncode == 0
    assert run_cli(root, "append", "before the agents came", "--file", "src/old.py").returncode == 0
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION >= 10
    # Back to version 9's table, as a store written by the previous release holds it.
    script = schema.MIGRATIONS[10].replace("entries_v10", "entries_v9").replace(", 'intent', 'agent'", "")
    for statement in schema.split_sql(script):
        db.execute(statement)
    drop_tables_after(db, 10)
    db.execute("PRAGMA user_version = 9")
    db.commit()
    db.close()
    git(root, "status")
    assert "before the **agents** came" in run_cli(root, "search", "agents").stdout
    body = {"session_id": "s", "cwd": str(root), "prompt": "now the agent"}
    done = subprocess.run(
        ["python", "-m", "scribe_ls", "hook", "claude-code", "UserPromptSubmit"],
        input=json.dumps(body), cwd=root, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    kinds = [(e["kind"], e["text"]) for e in entries(root)]
    assert ("note", "before the agents came") in kinds and ("intent", "now the agent") in kinds
    assert "src/**old**.py" in run_cli(root, "search", "old").stdout, "the files index follows the rebuild"
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO entries (session_id, at, kind, text) VALUES ('x', 'now', 'rant', 't')")


async def test_saves_an_agent_said_it_wrote_are_the_agents_and_the_rest_the_persons(tmp_path: Path) -> None:
    """A recording server, an agent's Write (the file saved, then its PostToolUse hook)
    and a person's save in the same activity window: two activity entries, one each."""
    import asyncio

    from scribe_ls.rpc.client import ScribeClient

    root = make_git_repo(tmp_path / "repo", branch="feature/B-2701-agent-cache")
    configure(root, "activity_window = 1.0\n")
    assert run_cli(root, "hooks", "install").returncode == 0
    client = await ScribeClient.spawn(root)
    try:
        await client.request("scribe/startSession", {})
        armed = await client.request("scribe/status", {})
        assert armed["watcher"]["running"]
        (root / "src").mkdir()
        (root / "src" / "cache.py").write_text("CACHE = {}\n")  # the agent's Write tool
        hook = await asyncio.to_thread(
            as_claude_code, root, "PostToolUse", payload("PostToolUse.Write", root)
        )
        assert hook.returncode == 0, hook.stderr
        (root / "notes.md").write_text("the person's own notes\n")  # the person, same minute

        def activity() -> list[dict[str, Any]]:
            found = [e for e in entries(root) if e["kind"] == "activity"]
            return found if len(found) >= 2 else []

        written = await asyncio.to_thread(wait_until, activity, "two activity entries", 15)
    finally:
        await client.close()
    by_author = {e["author"]: e["files"] for e in written}
    assert by_author == {"claude-code:8c35adc1-5d0": ["src/cache.py"], None: ["notes.md"]}


async def test_an_agent_changing_a_file_the_person_just_changed_is_said(tmp_path: Path) -> None:
    """The person saves notes.md; then the agent's Write of it: every client is told
    (window/showMessage), once."""
    import asyncio

    from scribe_ls.rpc.client import ScribeClient

    root = make_git_repo(tmp_path / "repo", branch="feature/B-2701-agent-cache")
    configure(root, "activity_window = 0.5\n")
    assert run_cli(root, "hooks", "install").returncode == 0
    client = await ScribeClient.spawn(root)
    said: list[str] = []
    client.on("window/showMessage", lambda params: said.append(params["message"]))
    try:
        await client.request("scribe/startSession", {})
        (root / "notes.md").write_text("the person's notes\n")

        def saved() -> list[dict[str, Any]]:
            return [e for e in entries(root) if e["kind"] == "activity"]

        await asyncio.to_thread(wait_until, saved, "the person's save")
        (root / "notes.md").write_text("the agent's rewrite\n")
        body = payload("PostToolUse.Write", root, tool_input={"file_path": str(root / "notes.md")})
        assert (await asyncio.to_thread(as_claude_code, root, "PostToolUse", body)).returncode == 0
        await asyncio.to_thread(wait_until, lambda: [m for m in said if "both changed" in m], "the warning")
    finally:
        await client.close()
    (told,) = [m for m in said if "both changed" in m]
    assert "claude-code:8c35adc1-5d0 and you both changed notes.md" in told


def test_a_hook_runs_where_the_agent_runs_it_with_a_minimal_path(project: Path, tmp_path: Path) -> None:
    """The agent's PATH need not hold this installation's bin: the command written is an
    absolute path."""
    (group,) = settings(project)["hooks"]["UserPromptSubmit"]
    command = group["hooks"][0]["command"]
    assert Path(shlex.split(command)[0]).is_absolute()
    done = subprocess.run(
        ["sh", "-c", command], input=json.dumps(payload("UserPromptSubmit", project)), cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CLAUDE_PROJECT_DIR": str(project)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == ""
    assert [e["kind"] for e in entries(project) if e["author"]] == ["intent"]


def test_a_turns_end_joins_an_open_session_and_starts_none(project: Path) -> None:
    assert as_claude_code(project, "Stop", payload("Stop", project)).returncode == 0
    assert not (project / ".scribe" / "scribe.db").exists() or entries(project) == []
    assert as_claude_code(project, "PostToolUse", payload("PostToolUse.Edit", project)).returncode == 0
    assert as_claude_code(project, "Stop", payload("Stop", project)).returncode == 0
    assert [e["text"] for e in entries(project) if e["author"]] == ["edited README.md (+1/-1)", "turn ended"]


def test_time_by_author_splits_an_item_and_counts_both_at_work_once(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The person works 9:00-9:20; an agent's turns 9:10-9:30 (prompt, edits, commands):
    the item has 30 minutes, the person 20, the agent 20, 10 of them at once."""
    from datetime import UTC, datetime, timedelta

    from .test_time import NEW_YORK, Clock, open_ledger

    clock = Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setattr("scribe_ls.store.base.utc_now", clock)
    monkeypatch.setattr("scribe_ls.store.base.monotonic", clock.monotonic)
    monkeypatch.setattr("scribe_ls.core.operations.utc_now", clock)
    ledger = open_ledger(repo)
    t0 = datetime(2026, 6, 1, 9, 0, tzinfo=NEW_YORK)
    clock.set(t0)
    session = ledger.start_session().session
    assert session is not None
    for minute in range(0, 21, 2):  # the person: notes every two minutes, 9:00-9:20
        clock.set(t0 + timedelta(minutes=minute))
        ledger.append_entry(f"note {minute}", "note", session.id)
        if minute >= 10:  # the agent, 9:10-9:30, at the same moments and after
            ledger.append_entry("ran `pytest` → exit 0", "agent", session.id, author="claude-code:8c35adc1")
    for minute in range(22, 31, 2):
        clock.set(t0 + timedelta(minutes=minute))
        ledger.append_entry(
            "edited src/x.py", "agent", session.id, ["src/x.py"], author="claude-code:8c35adc1"
        )
    report = ledger.report("time", since="2026-06-01", until="2026-06-01", by="author")
    wire = report.to_wire()
    split = {row["author"]: row["seconds"] for row in wire["rows"]}
    assert split == {"person": 20 * 60, "claude-code": 20 * 60}
    assert wire["totalSeconds"] == 30 * 60 and wire["bothSeconds"] == 10 * 60
    ledger.store.close()
    shown = run_cli(repo, "report", "--by", "author", "--since", "2026-06-01", "--until", "2026-06-01")
    assert "claude-code" in shown.stdout and "person" in shown.stdout
    assert "at work at once: 10m, counted once in the total" in shown.stdout


def test_a_payload_over_the_cap_is_not_read_and_still_exits_0(project: Path) -> None:
    from scribe_ls.cli.hook_verbs import MAX_PAYLOAD

    (group,) = settings(project)["hooks"]["UserPromptSubmit"]
    body = json.dumps(payload("UserPromptSubmit", project, prompt="x" * (MAX_PAYLOAD + 10)))
    done = subprocess.run(
        ["sh", "-c", group["hooks"][0]["command"]],
        input=body, cwd=project, env={**os.environ, "CLAUDE_PROJECT_DIR": str(project)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0 and "not read" in done.stderr
    assert not (project / ".scribe" / "scribe.db").exists() or entries(project) == []
