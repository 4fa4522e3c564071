"""Only real work is recorded as the session's: files git itself rewrites (checkout, stash,
reset), temporary files of atomic saves (sed -i, mkstemp, *.tmp, scribe-ls's own),
directories, and files created and removed in a moment are not "files changed", and raise
no overlap; what the person really changed is."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import configure, git
from .test_recording import armed

pytestmark = pytest.mark.timeout(60)


async def recorded_files(client: ScribeClient, session_id: str) -> set[str]:
    """Every path the session's entries name (what summaries, resume and overlaps read)."""
    entries = await client.request("scribe/getEntries", {"sessionId": session_id, "limit": 1000})
    return {path for entry in entries["entries"] for path in entry["files"]}


async def settle(client: ScribeClient) -> None:
    """Past the activity window (0.2 s here) and the flush it ends with."""
    await asyncio.sleep(0.8)
    await client.request("scribe/status", {})


def two_branches(repo: Path) -> None:
    """termui.py and app.py committed; a branch "other" whose termui.py differs (checking it
    out and back makes git rewrite the file); activity entries 0.2 s apart."""
    (repo / "termui.py").write_text("ui = 1\n")
    (repo / "app.py").write_text("app = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "two modules")
    git(repo, "branch", "other")
    git(repo, "checkout", "-q", "other")
    (repo / "termui.py").write_text("ui = 2  # the other branch's version\n")
    git(repo, "commit", "-qam", "other's termui")
    git(repo, "checkout", "-q", "feature/B-4242-x")
    configure(repo, "activity_window = 0.2\n")


async def test_git_rewrites_temp_files_and_directories_are_not_work(repo: Path) -> None:
    two_branches(repo)
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        await armed(client, repo)
        await settle(client)
        baseline = await recorded_files(client, session["id"])  # the probe file
        # git rewrites termui.py twice (away and back): it ends as HEAD has it.
        git(repo, "checkout", "-q", "other")
        git(repo, "checkout", "-q", "feature/B-4242-x")
        # A stash puts back a change the person had not made in this session.
        (repo / "app.py").write_text("app = 'stashed'\n")
        await settle(client)
        git(repo, "stash", "-q")
        # sed -i, Python's mkstemp-and-rename, a *.tmp that lives a moment, directories.
        (repo / "real.py").write_text("x = 1\n")
        sed = await asyncio.create_subprocess_exec("sed", "-i", "s/1/2/", "real.py", cwd=repo)
        assert await sed.wait() == 0
        fd, tmp = tempfile.mkstemp(dir=repo, prefix=".app.py.", suffix=".tmp")
        os.write(fd, b"app = 'atomic'\n")
        os.close(fd)
        os.replace(tmp, repo / "app.py")
        (repo / "..mcp.json.1a2b3c.tmp").write_text("{}")
        (repo / "..mcp.json.1a2b3c.tmp").unlink()
        (repo / "gone.txt").write_text("here a moment\n")
        (repo / "gone.txt").unlink()
        (repo / ".cursor").mkdir()
        (repo / ".vscode").mkdir()
        await settle(client)
        files = await recorded_files(client, session["id"]) - baseline
        status = await client.request("scribe/status", {})
    finally:
        await client.close()
    assert files == {"app.py", "real.py"}, files  # app.py: the atomic save, after the stash
    assert not any(name.startswith("sed") or name.endswith(".tmp") for name in files)
    assert status["currentSession"]["stats"]["filesChanged"] == len(baseline | files)


async def test_a_checkout_raises_no_false_overlap(repo: Path) -> None:
    """Another item's session touched termui.py; this one only checks out a branch that
    rewrites it: no overlap warning, on either side."""
    two_branches(repo)
    client = await ScribeClient.spawn(repo)
    try:
        first = await client.request("scribe/startSession", {"backlogId": "B-2002"})
        ui_work = {"text": "ui work", "files": ["termui.py"], "sessionId": first["id"]}
        await client.request("scribe/appendEntry", ui_work)
        await client.request("scribe/startSession", {"backlogId": "B-4242"})  # pauses B-2002
        await armed(client, repo)
        client.drain_notifications()
        git(repo, "checkout", "-q", "other")
        git(repo, "checkout", "-q", "feature/B-4242-x")
        (repo / "mine.py").write_text("mine = 1\n")  # a real save, so a check runs
        await asyncio.sleep(2.0)  # overlap checks run once a second
        overlaps = [params for method, params in client.drain_notifications() if method == "scribe/overlap"]
    finally:
        await client.close()
    assert first["backlogId"] == "B-2002"
    assert overlaps == []
