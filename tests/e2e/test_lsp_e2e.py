"""End to end over stdio: pytest-lsp drives the real server process in a real git repo."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from .helpers import BRANCH, call, files_outside_scribe, git, run_cli

pytestmark = pytest.mark.timeout(60)

SCRIBE_METHODS = {
    "scribe/startSession",
    "scribe/stopSession",
    "scribe/updateSession",
    "scribe/getSession",
    "scribe/listSessions",
    "scribe/appendEntry",
    "scribe/getEntries",
    "scribe/search",
    "scribe/status",
    "scribe/getContext",
    "scribe/summarize",
    "scribe/metrics",
    "scribe/report",
    "scribe/heartbeat",
    "scribe/resume",
    "scribe/team",
}


async def error_of(client: LanguageClient, method: str, params: object) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as info:
        await call(client, method, params)
    return info.value


async def test_initialize_advertises_scribe_capabilities(client: LanguageClient) -> None:
    experimental = client.initialize_result.capabilities.experimental  # type: ignore[attr-defined]
    scribe = experimental["scribe"]
    assert scribe["version"] == 1
    assert set(scribe["methods"]) == SCRIBE_METHODS
    assert {"scribe/sessionChanged", "scribe/entryAdded", "scribe/activity", "scribe/summaryReady"} <= set(
        scribe["notifications"]
    )
    commands = client.initialize_result.capabilities.execute_command_provider.commands  # type: ignore[attr-defined]
    assert {m.replace("/", ".") for m in SCRIBE_METHODS} <= set(commands)


async def test_session_story_from_the_issue(client: LanguageClient, repo: Path) -> None:
    pushes = client.pushes  # type: ignore[attr-defined]
    session = await call(client, "scribe/startSession", {})
    assert session["backlogId"] == "B-4242"
    assert session["branch"] == BRANCH
    assert session["status"] == "active"
    assert session["root"] == str(repo)
    started = await pushes.next("scribe/sessionChanged")
    assert started["change"] == "started" and started["session"]["id"] == session["id"]

    again = await call(client, "scribe/startSession", {"backlogId": "B-4242"})
    assert again["id"] == session["id"]

    entry = await call(client, "scribe/appendEntry", {"text": "Use SQLite WAL", "kind": "decision"})
    assert entry["kind"] == "decision" and entry["sessionId"] == session["id"]
    pushed = await pushes.until("scribe/entryAdded", lambda p: p["entry"]["id"] == entry["id"])
    assert pushed["entry"]["text"] == "Use SQLite WAL"

    listed = await call(client, "scribe/listSessions", {"backlogId": "B-4242"})
    assert [s["id"] for s in listed["sessions"]] == [session["id"]]
    entries = await call(client, "scribe/getEntries", {"sessionId": session["id"], "kinds": ["decision"]})
    assert [e["text"] for e in entries["entries"]] == ["Use SQLite WAL"]
    assert entries["nextAfterId"] is None

    bad = await error_of(client, "scribe/appendEntry", {"text": 42})
    assert bad.code == -32602 and "text" in bad.message
    missing = await error_of(client, "scribe/getSession", {"sessionId": "s-000000000000"})
    assert missing.code == -32010 and "sessionId" in missing.message

    stopped = await call(client, "scribe/stopSession", {})
    assert stopped["status"] == "completed" and stopped["endedAt"] is not None
    change = await pushes.until("scribe/sessionChanged", lambda p: p["change"] == "stopped")
    assert change["session"]["id"] == session["id"]

    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert worklog.startswith("# Worklog B-4242\n\n## ")
    assert "- Session started\n- Branch: feature/B-4242-x\n" in worklog
    assert "- Decision: Use SQLite WAL\n" in worklog
    assert worklog.endswith("- Session stopped\n")


async def test_shutdown_and_exit_code_zero(client: LanguageClient) -> None:
    await call(client, "scribe/status", {})
    await client.shutdown_session()
    assert client._server is not None
    assert client._server.returncode == 0
    client.capabilities = None  # already shut down; the fixture must not do it again


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("scribe/startSession", {"backlogId": "../../etc/passwd"}, "backlogId"),
        ("scribe/startSession", {"backlogId": "B-12/../../x"}, "backlogId"),
        ("scribe/startSession", {"backlogId": 12}, "backlogId"),
        ("scribe/startSession", {"tags": "not-a-list"}, "tags"),
        ("scribe/startSession", {"tags": ["ok", 3]}, "tags[1]"),
        ("scribe/startSession", {"title": ""}, "title"),
        ("scribe/appendEntry", {}, "text"),
        ("scribe/appendEntry", {"text": ""}, "text"),
        ("scribe/appendEntry", {"text": "   \n"}, "text"),
        ("scribe/appendEntry", {"text": "x" * 65537}, "text"),
        ("scribe/appendEntry", {"text": "x", "kind": "rant"}, "kind"),
        ("scribe/appendEntry", {"text": "x", "files": "a.py"}, "files"),
        ("scribe/appendEntry", {"text": "x", "sessionId": 7}, "sessionId"),
        ("scribe/updateSession", {"sessionId": "s-1", "status": "completed"}, "status"),
        ("scribe/updateSession", {"status": "paused"}, "sessionId"),
        ("scribe/getSession", {}, "sessionId"),
        ("scribe/listSessions", {"limit": "ten"}, "limit"),
        ("scribe/listSessions", {"limit": 0}, "limit"),
        ("scribe/listSessions", {"limit": True}, "limit"),
        ("scribe/listSessions", {"status": "running"}, "status"),
        ("scribe/getEntries", {"sessionId": "s-1", "afterId": -1}, "afterId"),
        ("scribe/getEntries", {"sessionId": "s-1", "kinds": ["note", "x"]}, "kinds[1]"),
        ("scribe/search", {}, "query"),
        ("scribe/status", [1, 2], "params"),
    ],
)
async def test_bad_params_name_the_field(
    client: LanguageClient, repo: Path, method: str, params: object, field: str
) -> None:
    await call(client, "scribe/startSession", {})
    error = await error_of(client, method, params)
    assert error.code == -32602
    assert error.message.startswith(f"{field}:"), error.message
    # The server goes on, and nothing was written outside .scribe/.
    assert (await call(client, "scribe/status", {}))["sessions"]["active"] == 1
    assert files_outside_scribe(repo) == {"README.md"}


async def test_unknown_method_is_method_not_found(client: LanguageClient) -> None:
    error = await error_of(client, "scribe/noSuchThing", {})
    assert error.code == -32601
    assert (await call(client, "scribe/status", {}))["pid"] > 0


async def test_no_current_session_and_unknown_session(client: LanguageClient) -> None:
    error = await error_of(client, "scribe/appendEntry", {"text": "orphan"})
    assert error.code == -32011
    error = await error_of(client, "scribe/stopSession", {})
    assert error.code == -32011
    error = await error_of(client, "scribe/appendEntry", {"text": "x", "sessionId": "s-ffffffffffff"})
    assert error.code == -32010 and error.message.startswith("sessionId:")


async def execute(client: LanguageClient, command: str, *arguments: object) -> object:
    params = types.ExecuteCommandParams(command=command, arguments=list(arguments) or None)
    return await asyncio.wait_for(client.workspace_execute_command_async(params), 10)


async def test_execute_command_reaches_every_method(client: LanguageClient) -> None:
    session = await execute(client, "scribe.startSession", {"title": "cmd"})
    assert session["title"] == "cmd"
    entry = await execute(client, "scribe.appendEntry", {"text": "via command", "kind": "idea"})
    assert entry["kind"] == "idea"
    status = await execute(client, "scribe.status")
    assert status["sessions"]["active"] == 1
    with pytest.raises(JsonRpcException) as info:
        await execute(client, "scribe.appendEntry", {"text": ""})
    assert info.value.code == -32602 and info.value.message.startswith("text:")
    with pytest.raises(JsonRpcException) as info:
        await execute(client, "scribe.status", {}, {})
    assert info.value.code == -32602 and info.value.message.startswith("arguments:")


async def test_update_session_pause_resume_tags(client: LanguageClient) -> None:
    pushes = client.pushes  # type: ignore[attr-defined]
    session = await call(client, "scribe/startSession", {"tags": ["api"]})
    updated = await call(
        client,
        "scribe/updateSession",
        {
            "sessionId": session["id"],
            "status": "paused",
            "addTags": ["db"],
            "removeTags": ["api"],
            "title": "T",
        },
    )
    assert updated["status"] == "paused" and updated["tags"] == ["db"] and updated["title"] == "T"
    await pushes.until("scribe/sessionChanged", lambda p: p["change"] == "paused")
    await pushes.until("scribe/sessionChanged", lambda p: p["change"] == "updated")
    # Paused, it is still the branch's session: a note goes to it and leaves it paused.
    note = await call(client, "scribe/appendEntry", {"text": "x"})
    assert note["sessionId"] == session["id"]
    paused = await call(client, "scribe/getSession", {"sessionId": session["id"]})
    assert paused["status"] == "paused"
    resumed = await call(client, "scribe/updateSession", {"sessionId": session["id"], "status": "active"})
    assert resumed["status"] == "active"
    await pushes.until("scribe/sessionChanged", lambda p: p["change"] == "resumed")
    tagged = await call(client, "scribe/listSessions", {"tag": "db"})
    assert [s["id"] for s in tagged["sessions"]] == [session["id"]]


async def test_active_session_limit(client: LanguageClient, repo: Path) -> None:
    for number in range(8):
        await call(client, "scribe/startSession", {"backlogId": f"B-{number + 1}"})
    error = await error_of(client, "scribe/startSession", {"backlogId": "B-99"})
    assert error.code == -32012
    # The same backlog item is still idempotent at the limit.
    assert (await call(client, "scribe/startSession", {"backlogId": "B-3"}))["backlogId"] == "B-3"


async def test_get_entries_pages(client: LanguageClient) -> None:
    session = await call(client, "scribe/startSession", {})
    for number in range(25):
        await call(client, "scribe/appendEntry", {"text": f"note {number}"})
    seen: list[str] = []
    after = 0
    while True:
        page = await call(
            client,
            "scribe/getEntries",
            {"sessionId": session["id"], "afterId": after, "limit": 10, "kinds": ["note"]},
        )
        seen += [e["text"] for e in page["entries"]]
        if page["nextAfterId"] is None:
            break
        after = page["nextAfterId"]
    assert seen == [f"note {n}" for n in range(25)]


async def test_search_finds_entries_across_sessions(client: LanguageClient) -> None:
    for backlog_id, text in (("B-1", "cache invalidation by HEAD"), ("B-2", "unrelated")):
        session = await call(client, "scribe/startSession", {"backlogId": backlog_id})
        await call(client, "scribe/appendEntry", {"text": text, "sessionId": session["id"]})
    result = await call(client, "scribe/search", {"query": 'invalidation "HEAD'})
    assert [(h["backlogId"], h["entry"]["text"]) for h in result["hits"]] == [
        ("B-1", "cache invalidation by HEAD")
    ]


async def test_cli_append_while_server_runs_is_visible(client: LanguageClient, repo: Path) -> None:
    session = await call(client, "scribe/startSession", {})
    done = run_cli(repo, "append", "from the terminal", "--kind", "todo")
    assert done.returncode == 0, done.stderr
    entries = await call(client, "scribe/getEntries", {"sessionId": session["id"], "kinds": ["todo"]})
    assert [e["text"] for e in entries["entries"]] == ["from the terminal"]
    after = await call(client, "scribe/getSession", {"sessionId": session["id"]})
    assert after["stats"]["entries"] == session["stats"]["entries"] + 1
    assert "- TODO: from the terminal\n" in (repo / ".scribe/worklogs/B-4242.md").read_text()


async def test_secrets_are_redacted_before_storage(client: LanguageClient, repo: Path) -> None:
    await call(client, "scribe/startSession", {})
    entry = await call(client, "scribe/appendEntry", {"text": "db password=hunter2 works"})
    assert "hunter2" not in entry["text"]
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    texts = [row[0] for row in db.execute("SELECT text FROM entries")]
    assert texts and not any("hunter2" in t for t in texts)
    assert "hunter2" not in (repo / ".scribe/worklogs/B-4242.md").read_text()


async def test_store_is_wal_and_excluded_from_git(client: LanguageClient, repo: Path) -> None:
    await call(client, "scribe/startSession", {})
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
    # Kept out of git by a .gitignore of its own: nothing written into the repository's .git.
    assert (repo / ".scribe" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert ".scribe" not in (repo / ".git" / "info" / "exclude").read_text()
    assert git(repo, "status", "--porcelain") == ""


async def test_cli_writes_reach_connected_clients_as_pushes(client: LanguageClient, repo: Path) -> None:
    """A second process (the CLI) changes the store; the server relays it within a second."""
    pushes = client.pushes  # type: ignore[attr-defined]
    session = await call(client, "scribe/startSession", {})
    done = run_cli(repo, "append", "noted in a terminal", "--kind", "decision")
    assert done.returncode == 0, done.stderr
    pushed = await pushes.until(
        "scribe/entryAdded", lambda p: p["entry"]["text"] == "noted in a terminal", 2.0
    )
    assert pushed["entry"]["sessionId"] == session["id"] and pushed["entry"]["kind"] == "decision"
    assert run_cli(repo, "tag", "from-cli").returncode == 0
    changed = await pushes.until("scribe/sessionChanged", lambda p: p["change"] == "updated", 2.0)
    assert changed["session"]["tags"] == ["from-cli"]


async def test_own_changes_are_pushed_once(client: LanguageClient, repo: Path) -> None:
    pushes = client.pushes  # type: ignore[attr-defined]
    await call(client, "scribe/startSession", {})
    entry = await call(client, "scribe/appendEntry", {"text": "only once"})
    await pushes.until("scribe/entryAdded", lambda p: p["entry"]["id"] == entry["id"])
    # Give a (wrong) relay of our own commit time to arrive, then make sure none did.
    assert run_cli(repo, "append", "from elsewhere").returncode == 0  # a foreign commit wakes the relay
    await asyncio.sleep(0.5)
    again = [p for p in list(pushes.queues["scribe/entryAdded"]._queue) if p["entry"]["id"] == entry["id"]]
    assert again == []


@pytest.mark.parametrize("repo_config", ["max_active_sessions = 1\n"])
async def test_the_workspace_config_applies_wherever_the_server_started(
    client: LanguageClient, repo_config: str
) -> None:
    """pytest-lsp starts the server in another directory: the limit comes from the
    workspace's own .scribe/config.toml, not from the server's working directory."""
    await call(client, "scribe/startSession", {"backlogId": "B-1"})
    error = await error_of(client, "scribe/startSession", {"backlogId": "B-2"})
    assert error.code == -32012 and "1 sessions" in error.message
