"""Real-time recording against real server processes: a file saved in the work tree, a
branch switch, a commit, a second server, a killed recorder, an idle session."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import configure, git

pytestmark = pytest.mark.timeout(60)


async def activity_paths(client: ScribeClient, until: str, timeout: float = 5.0) -> set[str]:
    """Every path in scribe/activity pushes up to (and including) the one naming ``until``."""
    seen: set[str] = set()

    async def collect() -> set[str]:
        while True:
            params = await client.next_notification("scribe/activity", timeout=timeout)
            seen.update(f["path"] for f in params["files"])
            if until in seen:
                return seen

    return await asyncio.wait_for(collect(), timeout)


async def armed(client: ScribeClient, repo: Path) -> None:
    """Wait until this client's server records: the watcher reports a probe file."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    probe = repo / "probe.txt"
    while loop.time() < deadline:
        probe.write_text(str(loop.time()))
        try:
            await next_matching(
                client, "scribe/activity", lambda p: any(f["path"] == "probe.txt" for f in p["files"]), 0.3
            )
            client.drain_notifications()
            return
        except TimeoutError:
            continue
    raise AssertionError("the recorder never reported the probe file")


async def next_matching(client: ScribeClient, method: str, predicate: Any, timeout: float = 5.0) -> Any:
    async def wait() -> Any:
        while True:
            params = await client.next_notification(method, timeout=timeout)
            if predicate(params):
                return params

    return await asyncio.wait_for(wait(), timeout)


async def test_saved_file_is_pushed_and_ignored_files_never_are(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore")
    configure(repo, 'excludes = ["secret/*"]\nactivity_window = 0.3\n')
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        await armed(client, repo)
        (repo / "build").mkdir()
        (repo / "build" / "out.o").write_text("x")
        (repo / "debug.log").write_text("x")
        (repo / "secret").mkdir()
        (repo / "secret" / "key.txt").write_text("x")
        (repo / "src").mkdir()
        (repo / "src" / "app.py").write_text("print('hi')\n")
        seen = await activity_paths(client, "src/app.py")
        assert seen == {"src/app.py"}
        # The recorder writes one aggregated activity entry per window.
        entry = await next_matching(
            client,
            "scribe/entryAdded",
            lambda p: p["entry"]["kind"] == "activity" and "src/app.py" in p["entry"]["files"],
        )
        files = entry["entry"]["files"]
        assert set(files) <= {"probe.txt", "src/app.py"}  # the probe may share the window
        assert entry["entry"]["text"] == f"Changes: {len(files)} file(s)"
        status = await client.request("scribe/status")
        assert status["watcher"]["running"] and status["watcher"]["recorder"]
        assert status["watcher"]["events"] >= 1 and status["watcher"]["lastEventAt"]
        got = await client.request("scribe/getSession", {"sessionId": session["id"]})
        assert got["stats"]["filesChanged"] == 2  # the probe file and src/app.py
        worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
        assert "  - src/app.py\n" in worklog and "debug.log" not in worklog
    finally:
        assert await client.close() == 0


async def test_git_internals_and_scribe_dir_are_not_activity(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await armed(client, repo)
        git(repo, "tag", "v1")  # writes under .git/ only
        await client.request("scribe/appendEntry", {"text": "writes under .scribe/ only"})
        (repo / "marker.txt").write_text("x")
        seen = await activity_paths(client, "marker.txt")
        assert seen == {"marker.txt"}
    finally:
        await client.close()


async def test_editor_backup_and_lock_files_are_not_activity(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await armed(client, repo)
        names = [
            ".#notes.md",
            "#notes.md#",
            "notes.md~",
            ".notes.md.swp",
            ".notes.md.swo",
            "notes.swx",
            "4913",
        ]
        names.append(".goutputstream-ABC123")
        for name in names:
            (repo / name).write_text("x")
        (repo / "notes.md").write_text("the real file\n")
        seen = await activity_paths(client, "notes.md")
        assert seen == {"notes.md"}
        worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
        assert not any(name in worklog for name in names if name != "4913")
    finally:
        await client.close()


async def test_commit_becomes_an_entry_and_branch_switch_rebinds(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    try:
        first = await client.request("scribe/startSession", {})
        await armed(client, repo)
        (repo / "feature.py").write_text("x = 1\n")
        git(repo, "add", "feature.py")
        git(repo, "commit", "-q", "-m", "Add the feature")
        commit = await next_matching(client, "scribe/entryAdded", lambda p: p["entry"]["kind"] == "commit")
        assert commit["entry"]["text"].endswith(" Add the feature")
        assert commit["entry"]["files"] == ["feature.py"] and commit["entry"]["sessionId"] == first["id"]

        git(repo, "checkout", "-q", "-b", "feature/B-99-next")
        changed = await next_matching(
            client, "scribe/sessionChanged", lambda p: p["change"] == "branchChanged", timeout=5
        )
        assert (
            changed["session"]["backlogId"] == "B-99" and changed["session"]["branch"] == "feature/B-99-next"
        )
        old = await client.request("scribe/getSession", {"sessionId": first["id"]})
        assert old["status"] == "paused"

        git(repo, "checkout", "-q", "feature/B-4242-x")
        back = await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "branchChanged")
        assert back["session"]["id"] == first["id"] and back["session"]["status"] == "active"

        # A branch in a ref directory that did not exist at start (refs/heads/bugfix/):
        # its commits are seen too.
        git(repo, "checkout", "-q", "-b", "bugfix/B-77-crash")
        await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "branchChanged")
        (repo / "fix.py").write_text("fixed = True\n")
        git(repo, "add", "fix.py")
        git(repo, "commit", "-q", "-m", "Fix the crash")
        fix = await next_matching(client, "scribe/entryAdded", lambda p: p["entry"]["kind"] == "commit")
        assert fix["entry"]["text"].endswith(" Fix the crash") and fix["entry"]["files"] == ["fix.py"]
    finally:
        await client.close()


async def test_two_servers_one_recorder_and_takeover_after_kill(repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    first = await ScribeClient.spawn(repo)
    await asyncio.sleep(0.3)
    second = await ScribeClient.spawn(repo)
    try:
        await first.request("scribe/startSession", {})
        statuses = [await c.request("scribe/status") for c in (first, second)]
        assert [s["watcher"]["recorder"] for s in statuses] == [True, False]

        await armed(first, repo)
        (repo / "shared.txt").write_text("x")
        for client in (first, second):  # both hear it; only the first recorded it
            assert "shared.txt" in await activity_paths(client, "shared.txt")
        await next_matching(second, "scribe/entryAdded", lambda p: p["entry"]["kind"] == "activity")
        await asyncio.sleep(0.5)
        db = sqlite3.connect(repo / ".scribe" / "scribe.db")
        assert db.execute("SELECT COUNT(*) FROM entries WHERE kind = 'activity'").fetchone()[0] == 1

        assert first.process is not None
        os.kill(first.process.pid, signal.SIGKILL)
        await first.process.wait()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        while not (await second.request("scribe/status"))["watcher"]["running"]:
            assert loop.time() - killed_at < 1.0, "the second server did not take over within 1 s"
            await asyncio.sleep(0.02)
        (repo / "after.txt").write_text("x")
        assert "after.txt" in await activity_paths(second, "after.txt")
    finally:
        await second.close()


async def test_idle_session_is_paused_and_resumed_by_activity(repo: Path) -> None:
    configure(repo, "idle_timeout = 1\nactivity_window = 0.2\n")
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        paused = await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "paused", 6)
        assert paused["session"]["id"] == session["id"]
        (repo / "wake.txt").write_text("x")
        resumed = await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "resumed", 6)
        assert resumed["session"]["id"] == session["id"]
        texts = [
            e["text"]
            for e in (await client.request("scribe/getEntries", {"sessionId": session["id"]}))["entries"]
        ]
        assert "Idle timeout reached; pausing session" in texts and "Session resumed" in texts
    finally:
        await client.close()


async def test_a_config_edit_applies_to_the_open_session_and_bad_values_are_shown(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        assert session["idleTimeout"] == 1800
        await armed(client, repo)
        configure(repo, 'idle_timeout = 1\nlog_level = "LOUD"\n')  # edited while it runs
        shown = await next_matching(client, "window/showMessage", lambda p: "log_level" in p["message"], 10)
        assert shown["type"] == 2 and "must be one of" in shown["message"]  # a warning, to the user
        # The open session did not set its own timeout: the new one applies, and it pauses.
        paused = await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "paused", 10)
        assert paused["session"]["id"] == session["id"] and paused["session"]["idleTimeout"] == 1
    finally:
        await client.close()


async def test_did_change_configuration_reads_the_settings_again(repo: Path) -> None:
    # The recorder does not see pyproject.toml change: only the notification tells.
    configure(repo, 'excludes = ["pyproject.toml"]\n')
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        (repo / "pyproject.toml").write_text("[tool.scribe]\nidle_timeout = 600\n")
        client.notify("workspace/didChangeConfiguration", {"settings": None})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (await client.request("scribe/getSession", {"sessionId": session["id"]}))["idleTimeout"] != 600:
            assert loop.time() < deadline, "the new idle_timeout never applied"
            await asyncio.sleep(0.05)
    finally:
        await client.close()


@pytest.mark.parametrize("stop_on_push", [True, False])
async def test_a_push_that_catches_the_remote_up_stops_the_session_when_asked(
    repo: Path, tmp_path: Path, stop_on_push: bool
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "feature/B-4242-x")
    configure(repo, f"stop_on_push = {'true' if stop_on_push else 'false'}\n")
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        await armed(client, repo)
        (repo / "pushed.py").write_text("x = 1\n")
        git(repo, "add", "pushed.py", "probe.txt")  # a clean work tree once committed
        git(repo, "commit", "-q", "-m", "To be pushed")
        await next_matching(client, "scribe/entryAdded", lambda p: p["entry"]["kind"] == "commit")
        git(repo, "push", "-q")
        if stop_on_push:
            stopped = await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "stopped")
            assert stopped["session"]["id"] == session["id"]
            worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
            assert worklog.endswith("- Remote is up-to-date with local; stopping scribe after push\n")
        else:
            with pytest.raises(TimeoutError):
                await next_matching(client, "scribe/sessionChanged", lambda p: p["change"] == "stopped", 1.5)
            assert (await client.request("scribe/getSession", {"sessionId": session["id"]}))[
                "status"
            ] == "active"
    finally:
        await client.close()


async def test_saves_before_a_branch_switch_stay_with_the_old_item(repo: Path) -> None:
    configure(repo, "activity_window = 60\n")  # held until something flushes them
    client = await ScribeClient.spawn(repo)
    try:
        first = await client.request("scribe/startSession", {})
        await armed(client, repo)
        (repo / "before.py").write_text("x = 1\n")
        await next_matching(
            client, "scribe/activity", lambda p: any(f["path"] == "before.py" for f in p["files"])
        )
        git(repo, "checkout", "-q", "-b", "feature/B-5555-next")
        started = await next_matching(
            client,
            "scribe/sessionChanged",
            lambda p: p["change"] == "started" and p["session"]["backlogId"] == "B-5555",
        )
        old = await client.request("scribe/getEntries", {"sessionId": first["id"], "kinds": ["activity"]})
        new = await client.request(
            "scribe/getEntries", {"sessionId": started["session"]["id"], "kinds": ["activity"]}
        )
    finally:
        await client.close()
    assert any("before.py" in e["files"] for e in old["entries"])
    assert not any("before.py" in e["files"] for e in new["entries"])
