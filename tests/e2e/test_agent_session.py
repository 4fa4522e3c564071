"""A realistic afternoon: a person at an editor and a coding agent in a terminal on one
backlog item, in the same minutes, on a real git repository with the recorder running.

The agent is played as Claude Code plays it: each tool's effect on disk first (the file
written, the test run, the commit made), then the hook our settings file configures for it,
run through a shell with the documented payload on stdin. The person saves files the way an
editor does. Then the record is read back the way its users read it: the timeline, the
worklog, the stand-up, the time report by author, the packet's files per author and the
overlap warning."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from scribe_ls.rpc.client import ScribeClient

from .helpers import configure, drop_tables_after, git, make_git_repo, run_cli, wait_until
from .test_agent_hooks import as_claude_code, entries, payload

BRANCH = "feature/B-2702-cache-per-head"
AGENT = "claude-code:8c35adc1-5d0"
TEST_FILE = "tests/test_cache.py"


def the_agent(root: Path, event: str, fixture: str, **changes: Any) -> subprocess.CompletedProcess[str]:
    done = as_claude_code(root, event, payload(fixture, root, **changes))
    assert done.returncode == 0 and done.stderr == "", (event, done.stderr)
    return done


def agent_edit(root: Path, path: str, old: str, new: str) -> None:
    """The Edit tool: the file changed on disk, then PostToolUse with what it replaced."""
    target = root / path
    target.write_text(target.read_text().replace(old, new))
    the_agent(
        root,
        "PostToolUse",
        "PostToolUse.Edit",
        tool_input={"file_path": str(target), "old_string": old, "new_string": new, "replace_all": False},
    )


def agent_runs(root: Path, command: list[str], shown: str) -> int:
    """The Bash tool: the command runs in the repository, then the hook for how it ended."""
    ran = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=60)
    tool_input = {"command": shown, "description": "run it"}
    if ran.returncode == 0:
        the_agent(root, "PostToolUse", "PostToolUse.Bash", tool_input=tool_input)
    else:
        error = f"Exit code {ran.returncode}\n{ran.stdout[-200:]}"
        the_agent(root, "PostToolUseFailure", "PostToolUseFailure.Bash", tool_input=tool_input, error=error)
    return ran.returncode


async def test_an_agent_and_a_person_on_one_item_in_the_same_minutes(tmp_path: Path) -> None:
    root = make_git_repo(tmp_path / "project", branch="main")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("def packet():\n    return build()\n")
    git(root, "add", "src/app.py")
    git(root, "commit", "-q", "-m", "the app")
    git(root, "checkout", "-q", "-b", BRANCH)
    # The recorder's window (10 s by default) outlasts a hook's start under any load: an
    # agent's save is its own once its hook is heard within the window.
    configure(root, "activity_window = 2.0\n")
    assert run_cli(root, "hooks", "install").returncode == 0
    client = await ScribeClient.spawn(root)  # the person's editor, recording
    told: list[str] = []
    client.on("window/showMessage", lambda params: told.append(params["message"]))

    async def person_saves(path: str, text: str) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

        def recorded() -> bool:
            return any(
                path in e["files"] and e["author"] is None for e in entries(root) if e["kind"] == "activity"
            )

        await asyncio.to_thread(wait_until, recorded, f"the person's save of {path}", 15)

    async def agent(step: Any, *args: Any, **changes: Any) -> Any:
        """One step of the agent's, off the event loop (the client keeps reading pushes)."""
        return await asyncio.to_thread(step, root, *args, **changes)

    try:
        await client.request("scribe/startSession", {})
        # The person starts the afternoon in the editor.
        await person_saves("src/app.py", "def packet():\n    return build()  # per HEAD?\n")

        # The agent's run: started, asked, writes a module and a test, edits the person's file.
        started = await agent(the_agent, "SessionStart", "SessionStart.startup")
        context = json.loads(started.stdout)["hookSpecificOutput"]["additionalContext"]
        assert "B-2702" in context and "src/app.py" in context, "the agent starts from where the work stands"
        await agent(the_agent, "UserPromptSubmit", "UserPromptSubmit", prompt="Cache the packet per HEAD")
        module = "CACHE = {}\n\n\ndef get(head):\n    return CACHE[head]\n"
        (root / "src" / "cache.py").write_text(module)
        await agent(
            the_agent,
            "PostToolUse",
            "PostToolUse.Write",
            tool_input={"file_path": str(root / "src" / "cache.py"), "content": module},
        )
        (root / "tests").mkdir()
        (root / TEST_FILE).write_text(
            "import sys\nsys.path.insert(0, 'src')\nimport cache\n\n\n"
            "def test_miss():\n    assert cache.get('abc') is None\n"
        )
        await agent(
            the_agent,
            "PostToolUse",
            "PostToolUse.Write",
            tool_input={"file_path": str(root / TEST_FILE), "content": (root / TEST_FILE).read_text()},
        )
        await agent(agent_edit, "src/app.py", "return build()", "return cache.get(head) or build()")

        # Meanwhile the person writes the README in the editor.
        await person_saves("README.md", "# demo\n\nThe packet is cached per HEAD.\n")

        # The test fails; the agent fixes the module; the test passes; it commits; the turn ends.
        test = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST_FILE]
        assert await agent(agent_runs, test, f"pytest -q {TEST_FILE}") != 0
        await agent(agent_edit, "src/cache.py", "return CACHE[head]", "return CACHE.get(head)")
        assert await agent(agent_runs, test, f"pytest -q {TEST_FILE}") == 0
        git(root, "add", "src/cache.py", TEST_FILE)
        commit = ["git", "commit", "-q", "-m", "Cache the packet per HEAD"]
        assert await agent(agent_runs, commit, "git commit -m 'Cache the packet per HEAD'") == 0
        await agent(the_agent, "Stop", "Stop")

        def committed() -> bool:
            return any(e["kind"] == "commit" for e in entries(root))

        await asyncio.to_thread(wait_until, committed, "the commit in the record", 15)
        await asyncio.to_thread(
            wait_until, lambda: [m for m in told if "both changed" in m], "the overlap warning", 15
        )
        packet = await client.request(
            "scribe/getContext", {"sections": ["session", "diff"], "format": "markdown"}
        )
    finally:
        await client.close()

    # The timeline: the agent's steps under its name, the person's saves under none.
    timeline = [
        (e["kind"], e["text"], e["author"]) for e in entries(root) if e["kind"] in ("intent", "agent")
    ]
    assert timeline == [
        ("agent", "agent session startup", AGENT),
        ("intent", "Cache the packet per HEAD", AGENT),
        ("agent", "wrote src/cache.py (+5)", AGENT),
        ("agent", f"wrote {TEST_FILE} (+7)", AGENT),
        ("agent", "edited src/app.py (+1/-1)", AGENT),
        ("agent", f"ran `pytest -q {TEST_FILE}` → exit 1", AGENT),
        ("agent", "edited src/cache.py (+1/-1)", AGENT),
        ("agent", f"ran `pytest -q {TEST_FILE}` → exit 0", AGENT),
        ("agent", "ran `git commit -m 'Cache the packet per HEAD'` → exit 0", AGENT),
        ("agent", "turn ended", AGENT),
    ]
    saves: dict[str, set[str]] = {}
    for e in entries(root):
        if e["kind"] == "activity":
            for path in e["files"]:
                saves.setdefault(path, set()).add(e["author"] or "person")
    assert saves["README.md"] == {"person"}
    assert saves["src/cache.py"] == {AGENT}, "the agent's saves are not the person's"
    assert saves["src/app.py"] == {"person", AGENT}

    # Told once that both changed src/app.py.
    assert [m for m in told if "both changed" in m] == [
        f"scribe-ls: {AGENT} and you both changed src/app.py in the last 10 minutes"
    ]

    # The worklog says who did what.
    worklog = (root / ".scribe" / "worklogs" / "B-2702.md").read_text()
    assert "- Prompt: Cache the packet per HEAD (by claude-code:8c35adc1-5d0)" in worklog
    assert f"ran `pytest -q {TEST_FILE}` → exit 1 (by {AGENT})" in worklog

    # The stand-up: the agent's turn, its files and lines, the failed run; the commit.
    standup = json.loads(run_cli(root, "report", "standup", "--json").stdout)
    (item,) = standup["items"]
    assert [c.split(" ", 1)[1] for c in item["commits"]] == ["Cache the packet per HEAD"]
    assert item["agents"] == [
        {
            "agent": "claude-code",
            "runs": 1,
            "turns": 1,
            "files": 3,
            "linesAdded": 14,
            "linesRemoved": 2,
            "failedCommands": 1,
        }
    ]

    # Time by author: both were at work; minutes at once are counted once in the total.
    split = json.loads(run_cli(root, "report", "time", "--by", "author", "--json").stdout)
    authors = {row["author"] for row in split["rows"]}
    assert authors == {"person", "claude-code"}
    assert split["totalSeconds"] == sum(row["seconds"] for row in split["rows"]) - split["bothSeconds"]

    # The packet: the agent's last turn, and who changed each file of the branch.
    session = packet["sections"]["session"]["data"]
    assert session["lastAgentTurn"]["prompt"] == "Cache the packet per HEAD"
    assert session["lastAgentTurn"]["ended"] is True
    by = {f["path"]: f["by"] for f in packet["sections"]["diff"]["data"]["files"]}
    assert by == {
        "README.md": ["person"],
        "src/app.py": ["person", "claude-code"],
        "src/cache.py": ["claude-code"],
        TEST_FILE: ["claude-code"],
        ".claude/settings.json": [],  # written by `hooks install`: no save of it was recorded
    }
    assert "| file | + | - | state | by |" in packet["markdown"]
    assert "| src/app.py | 1 | 1 | uncommitted | person, claude-code |" in packet["markdown"]
    assert "| .claude/settings.json | new |  | untracked | not seen |" in packet["markdown"]


def test_two_agents_in_two_worktrees_are_told_apart_and_their_shared_file_is_said(tmp_path: Path) -> None:
    """One repository, two linked worktrees on two items, a Claude Code run in each (two
    session ids): each worktree's record holds its own agent, and each packet names the
    other worktree's session that changed the same file."""
    from .helpers import linked_worktrees

    first = make_git_repo(tmp_path / "first", branch="feature/B-2704-a")
    second = linked_worktrees(first, tmp_path / "second")
    runs = {first: "aaaaaaaa-1111-4000-8000-000000000001", second: "bbbbbbbb-2222-4000-8000-000000000002"}
    for root, session_id in runs.items():
        assert run_cli(root, "hooks", "install").returncode == 0
        (root / "shared.py").write_text(f"x = '{root.name}'\n")
        body = payload("PostToolUse.Write", root, session_id=session_id)
        body["tool_input"] = {"file_path": str(root / "shared.py"), "content": f"x = '{root.name}'\n"}
        done = as_claude_code(root, "PostToolUse", body)
        assert done.returncode == 0, done.stderr

    authors = {root: {e["author"] for e in entries(root) if e["author"]} for root in runs}
    assert authors == {first: {"claude-code:aaaaaaaa-111"}, second: {"claude-code:bbbbbbbb-222"}}
    for root, other in ((first, second), (second, first)):
        packet = json.loads(run_cli(root, "context", "--format", "json", "--sections", "sessions").stdout)
        (listed,) = packet["sections"]["sessions"]["data"]
        assert listed["linkedWorktree"] is True and listed["root"] == str(other.resolve())
        assert listed["sharedFiles"] == ["shared.py"]


def test_a_store_of_schema_11_learns_who_changed_its_files_from_its_entries(tmp_path: Path) -> None:
    """Version 12 keeps who changed each file as entries are written; a store written
    before it fills that from the activity and agent entries it has."""
    import sqlite3

    from scribe_ls.store import schema

    root = make_git_repo(tmp_path / "project", branch=BRANCH)
    assert run_cli(root, "hooks", "install").returncode == 0
    (root / "src").mkdir()
    (root / "src" / "cache.py").write_text("CACHE = {}\n")
    assert as_claude_code(root, "PostToolUse", payload("PostToolUse.Write", root)).returncode == 0
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    (session_id,) = db.execute("SELECT id FROM sessions").fetchone()
    db.execute(  # the person's save of README.md, as the recorder writes it
        "INSERT INTO entries (session_id, at, kind, text, files) VALUES (?, ?, 'activity', ?, ?)",
        (session_id, "2026-12-07T09:00:00.000Z", "Changes: 1 file(s)", '["README.md"]'),
    )
    drop_tables_after(db, 11)
    db.execute("PRAGMA user_version = 11")
    db.commit()
    db.close()
    (root / "README.md").write_text("# demo, by hand\n")
    packet = json.loads(run_cli(root, "context", "--format", "json", "--sections", "diff").stdout)
    by = {f["path"]: f["by"] for f in packet["sections"]["diff"]["data"]["files"]}
    assert by["README.md"] == ["person"] and by["src/cache.py"] == ["claude-code"]
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    db.close()
