"""A start returns once the watch is armed: a file saved the moment `scribe-ls start`,
`scribe/startSession` or the Python API's start returns is recorded as the session's work,
whether the background recorder was already running or the start spawned it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from scribe_ls.core.service import Scribe
from scribe_ls.rpc.client import ScribeClient

from .helpers import configure, make_git_repo, run_cli, wait_until
from .test_daemon import User
from .test_daemon import user as user

pytestmark = pytest.mark.timeout(90)


def session_files(repo: Path, person: User) -> set[str]:
    entries = person.json(repo, "info", "--entries", "50")["recentEntries"]
    return {path for entry in entries for path in entry["files"]}


@pytest.mark.parametrize("daemon_running", [False, True])
def test_a_save_right_after_the_cli_start_is_recorded(
    repo: Path,
    user: User,
    daemon_running: bool,
) -> None:
    configure(repo, "activity_window = 0.2\n")
    if daemon_running:  # another repository's start spawned it; this start hands over to it
        other = make_git_repo(repo.parent / "other")
        assert user.cli(other, "start").returncode == 0
        assert user.status(other) is not None
    started = user.cli(repo, "start")
    assert started.returncode == 0, started.stderr
    (repo / "at-once.py").write_text("x = 1\n")  # 0 ms after start returned
    time.sleep(0.1)
    (repo / "soon.py").write_text("y = 1\n")
    wait_until(lambda: {"at-once.py", "soon.py"} <= session_files(repo, user), "both saves recorded", 15)


async def test_a_save_right_after_start_session_over_the_wire_is_recorded(repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        (repo / "at-once.py").write_text("x = 1\n")
        deadline = asyncio.get_running_loop().time() + 10
        files: set[str] = set()
        while "at-once.py" not in files and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
            entries = await client.request("scribe/getEntries", {"sessionId": session["id"]})
            files = {path for entry in entries["entries"] for path in entry["files"]}
    finally:
        await client.close()
    assert "at-once.py" in files


async def test_a_save_right_after_the_python_api_start_is_recorded(repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    async with Scribe(repo, record=True) as scribe:
        session = await scribe.start_session()
        (repo / "at-once.py").write_text("x = 1\n")
        await asyncio.sleep(1.0)
        entries, _ = await scribe.get_entries(session.id)
    assert "at-once.py" in {path for entry in entries for path in entry.files}
    assert run_cli(repo, "status").returncode == 0
