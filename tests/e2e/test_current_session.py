"""Which session is current: the checked-out branch's item, every time.

The story that broke (start on B-4242, switch to B-5555 and start, switch back and start,
append): the note must land on B-4242, through the CLI, the LSP server and the Python
API alike, with or without a server watching the branch switch.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from scribe_ls.core.service import Scribe
from scribe_ls.errors import NoCurrentSession

from .helpers import BRANCH, call, git, run_cli

pytestmark = pytest.mark.timeout(60)

OTHER = "feature/B-5555-other"


def cli_json(repo: Path, *args: str) -> dict:
    done = run_cli(repo, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sessions_by_item(repo: Path) -> dict[str, str]:
    return {s["backlogId"]: s["status"] for s in cli_json(repo, "list")["sessions"]}


def test_cli_story_puts_the_note_on_the_checked_out_item(repo: Path) -> None:
    first = cli_json(repo, "start")
    assert (first["backlogId"], first["change"]) == ("B-4242", "started")
    git(repo, "checkout", "-q", "-b", OTHER)
    second = run_cli(repo, "start")
    assert second.stdout.startswith("started: ● B-5555"), second.stdout
    assert "scribe-ls: paused B-4242" in second.stderr  # said, not done behind the user's back
    git(repo, "checkout", "-q", BRANCH)
    back = run_cli(repo, "start")
    assert back.stdout.startswith("resumed: ● B-4242"), back.stdout
    note = cli_json(repo, "append", "x")
    assert note["sessionId"] == first["id"]
    assert sessions_by_item(repo) == {"B-4242": "active", "B-5555": "paused"}
    worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
    assert "- Session paused; switched to B-5555\n" in worklog and worklog.endswith("- x\n")


def test_cli_follows_a_branch_switch_no_server_saw(repo: Path) -> None:
    """No server runs: the next verb applies the switch, by the server's rule."""
    run_cli(repo, "start")
    git(repo, "checkout", "-q", "-b", OTHER)
    done = run_cli(repo, "append", "on the other item")
    assert done.returncode == 0, done.stderr
    assert "started B-5555" in done.stderr and "paused B-4242" in done.stderr
    assert sessions_by_item(repo) == {"B-4242": "paused", "B-5555": "active"}
    assert "- on the other item\n" in (repo / ".scribe/worklogs/B-5555.md").read_text()
    assert "on the other item" not in (repo / ".scribe/worklogs/B-4242.md").read_text()
    # Applied once: the next verb sees the branch it recorded and changes nothing.
    again = run_cli(repo, "append", "second note")
    assert again.returncode == 0 and again.stderr == ""


def test_cli_rejoin_applies_what_is_given(repo: Path) -> None:
    run_cli(repo, "start")
    updated = cli_json(repo, "start", "--title", "Cache by HEAD", "--tag", "perf", "--priority", "high")
    assert updated["change"] == "updated"
    assert (updated["title"], updated["tags"], updated["priority"]) == ("Cache by HEAD", ["perf"], "high")
    same = run_cli(repo, "start", "--tag", "perf")
    assert same.stdout.startswith("rejoined: ● B-4242"), same.stdout


def test_cli_branch_without_an_item_uses_the_session_used_last(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "main")
    one = cli_json(repo, "start", "--backlog-id", "B-1")
    two = cli_json(repo, "start", "--backlog-id", "B-2")
    assert cli_json(repo, "append", "to two")["sessionId"] == two["id"]
    assert cli_json(repo, "start", "--backlog-id", "B-1")["change"] == "resumed"
    assert cli_json(repo, "append", "to one")["sessionId"] == one["id"]


def test_cli_start_of_another_item_says_where_plain_appends_go(repo: Path) -> None:
    run_cli(repo, "start")
    other = run_cli(repo, "start", "--backlog-id", "B-7")
    assert other.returncode == 0
    assert "the checked-out branch is B-4242's" in other.stderr
    # The branch's item stays current, even paused; --session reaches the other.
    assert cli_json(repo, "append", "branch note")["sessionId"] == cli_json(repo, "info", "B-4242")["id"]
    assert cli_json(repo, "append", "B-7 note", "--session", "B-7")["sessionId"] != ""


def test_cli_without_an_open_session_for_the_branch_says_so(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "main")
    run_cli(repo, "start", "--backlog-id", "B-1")
    run_cli(repo, "stop")
    git(repo, "checkout", "-q", BRANCH)  # nothing was active: nothing is started for B-4242
    done = run_cli(repo, "append", "lost?")
    assert done.returncode == 1
    assert "no open session for B-4242" in done.stderr and "scribe-ls start" in done.stderr


async def test_api_story_and_stop_of_a_paused_current_session(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        first = await scribe.start_session()
        git(repo, "checkout", "-q", "-b", OTHER)
        second = await scribe.start_session()
        assert second.backlog_id == "B-5555"
        git(repo, "checkout", "-q", BRANCH)
        back = await scribe.start()
        assert (back.session.id, back.change) == (first.id, "resumed")
        note = await scribe.note("x")
        assert note.session_id == first.id
        packet = await scribe.context(sections=["session"])
        assert packet["sessionId"] == first.id
        # Paused, it is still current: a plain stop stops it.
        await scribe.update_session(first.id, status="paused")
        stopped = await scribe.stop_session()
        assert (stopped.id, stopped.status) == (first.id, "completed")
        with pytest.raises(NoCurrentSession) as info:
            await scribe.note("nowhere")
        assert info.value.data == {"backlogId": "B-4242"}


async def test_lsp_story_with_the_server_watching(client: LanguageClient, repo: Path) -> None:
    pushes = client.pushes  # type: ignore[attr-defined]
    first = await call(client, "scribe/startSession", {})
    assert (first["backlogId"], first["change"]) == ("B-4242", "started")
    git(repo, "checkout", "-q", "-b", OTHER)
    # The server's recorder sees the switch: B-4242 paused, B-5555 started on its branch.
    await pushes.until(
        "scribe/sessionChanged",
        lambda p: p["change"] == "started" and p["session"]["backlogId"] == "B-5555",
    )
    joined = await call(client, "scribe/startSession", {})
    assert (joined["backlogId"], joined["change"]) == ("B-5555", "rejoined")
    git(repo, "checkout", "-q", BRANCH)
    await pushes.until(
        "scribe/sessionChanged",
        lambda p: p["change"] == "resumed" and p["session"]["id"] == first["id"],
    )
    again = await call(client, "scribe/startSession", {"title": "Back on it", "tags": ["cache"]})
    assert (again["id"], again["change"]) == (first["id"], "updated")
    assert (again["title"], again["tags"]) == ("Back on it", ["cache"])
    await pushes.until("scribe/sessionChanged", lambda p: p["change"] == "updated")
    entry = await call(client, "scribe/appendEntry", {"text": "x"})
    assert entry["sessionId"] == first["id"]
    status = await call(client, "scribe/status", {})
    assert status["currentSessionId"] == first["id"]
    # A CLI on the same root agrees.
    assert cli_json(repo, "append", "from the terminal")["sessionId"] == first["id"]


async def test_a_switch_seen_by_the_cli_and_a_server_is_applied_once(
    client: LanguageClient, repo: Path
) -> None:
    await call(client, "scribe/startSession", {})
    git(repo, "checkout", "-q", "-b", OTHER)
    # Race the server's recorder: the CLI may apply the switch, or the server; never both.
    cli_json(repo, "append", "racing the watcher")
    await asyncio.sleep(1.0)  # let the recorder see HEAD move
    sessions = cli_json(repo, "list")["sessions"]
    assert sorted((s["backlogId"], s["status"]) for s in sessions) == [
        ("B-4242", "paused"),
        ("B-5555", "active"),
    ]
    entries = await call(client, "scribe/getEntries", {"sessionId": sessions[0]["id"]})
    texts = [e["text"] for e in entries["entries"]]
    assert texts.count("Session started") == 1


def test_cli_stop_without_an_argument_stops_the_paused_current_session(repo: Path) -> None:
    session = cli_json(repo, "start")
    paused = cli_json(
        repo, "call", "scribe/updateSession", json.dumps({"sessionId": session["id"], "status": "paused"})
    )
    assert paused["status"] == "paused"
    stopped = run_cli(repo, "stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped: ✓ B-4242"), stopped.stdout
