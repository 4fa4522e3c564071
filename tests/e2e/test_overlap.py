"""Live overlap warnings: two linked worktrees of one repository, a session on a backlog
branch in each, both touching one file: each side's client hears one `scribe/overlap`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import configure, linked_worktrees, run_cli
from .test_recording import armed

pytestmark = pytest.mark.timeout(90)


async def overlap_for(client: ScribeClient, path: str, timeout: float = 15) -> dict[str, Any]:
    """The overlap push that names ``path`` (both sides' probe files overlap too)."""

    async def wait() -> dict[str, Any]:
        while True:
            params = await client.next_notification("scribe/overlap", timeout=timeout)
            if path in params["files"]:
                return params

    return await asyncio.wait_for(wait(), timeout)


async def recorded(client: ScribeClient, root: Path, name: str) -> None:
    """Save ``name`` until its activity entry names it (the session's files hold it)."""
    for attempt in range(100):
        (root / name).write_text(f"x = {attempt}\n")
        await asyncio.sleep(0.3)
        session = (await client.request("scribe/status"))["currentSession"]
        asked = {"sessionId": session["id"], "kinds": ["activity"]}
        entries = await client.request("scribe/getEntries", asked)
        if any(name in e["files"] for e in entries["entries"]):
            return
    raise AssertionError(f"{name} was never recorded")


async def test_two_worktrees_touching_one_file_each_hear_one_overlap(repo: Path, tmp_path: Path) -> None:
    main_root = str(repo.resolve())  # noqa: ASYNC240 (before any server runs)
    second = linked_worktrees(repo, tmp_path / "second")
    first_client = await ScribeClient.spawn(repo)
    second_client = await ScribeClient.spawn(second)
    try:
        one = await first_client.request("scribe/startSession", {})
        two = await second_client.request("scribe/startSession", {})
        assert (one["backlogId"], two["backlogId"]) == ("B-4242", "B-5555")
        await armed(first_client, repo)
        await armed(second_client, second)
        await recorded(first_client, repo, "shared.py")  # B-4242 touched it first
        (second / "shared.py").write_text("x = 'changed in the other worktree'\n")
        heard_here = await overlap_for(second_client, "shared.py")
        assert heard_here["sessionId"] == two["id"] and "shared.py" in heard_here["files"]
        assert heard_here["otherSession"]["backlogId"] == "B-4242"
        assert heard_here["otherSession"]["root"] == main_root
        heard_there = await overlap_for(first_client, "shared.py")
        assert heard_there["sessionId"] == one["id"] and "shared.py" in heard_there["files"]
        assert heard_there["otherSession"]["backlogId"] == "B-5555"
        # Each side's packet lists the other worktree's session with the file they share.
        for client, other_id, other_root in (
            (first_client, two["id"], str(second.resolve())),
            (second_client, one["id"], main_root),
        ):
            packet = await client.request(
                "scribe/getContext", {"sections": ["sessions"], "format": "markdown"}
            )
            listed = {s["id"]: s for s in packet["sections"]["sessions"]["data"]}
            assert listed[other_id]["linkedWorktree"] is True and listed[other_id]["root"] == other_root
            assert "shared.py" in listed[other_id]["sharedFiles"]
            assert f"worktree {other_root}) — also touched:" in packet["markdown"]
        # Once per file and session: saving it again tells nobody again.
        second_client.drain_notifications()
        first_client.drain_notifications()
        (second / "shared.py").write_text("x = 'again'\n")
        await asyncio.sleep(2.5)
        for client in (first_client, second_client):
            again = [p for m, p in client.drain_notifications() if m == "scribe/overlap"]
            assert not [p for p in again if "shared.py" in p["files"]], again
    finally:
        await first_client.close()
        await second_client.close()


async def test_a_linked_worktree_whose_store_is_a_planted_link_is_skipped(repo: Path, tmp_path: Path) -> None:
    """A sibling worktree's ``.scribe`` that links elsewhere (a repository can ship that) is
    neither read nor written: no overlap, no session listed, the link's target unchanged."""
    second = linked_worktrees(repo, tmp_path / "second")
    assert run_cli(second, "start").returncode == 0  # a real store there, touching shared.py
    assert run_cli(second, "append", "--file", "shared.py", "edited it").returncode == 0
    elsewhere = tmp_path / "elsewhere"
    (second / ".scribe").rename(elsewhere)
    (second / ".scribe").symlink_to(elsewhere)
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir() if p.is_file()}
    configure(repo, "activity_window = 0.2\n")
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await armed(client, repo)
        await recorded(client, repo, "shared.py")
        await asyncio.sleep(1.5)  # an overlap check ran over the changed file
        assert not [p for m, p in client.drain_notifications() if m == "scribe/overlap"]
        packet = await client.request("scribe/getContext", {"sections": ["sessions"]})
        assert packet["sections"]["sessions"] == {"ok": True, "data": [], "elapsedMs": ANY}
    finally:
        await client.close()
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir() if p.is_file()} == before
