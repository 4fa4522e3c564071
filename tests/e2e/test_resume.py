"""The resume packet: `scribe/resume`, `scribe-ls resume`, and `scribe/resumeAvailable` when
an editor opens a root whose current session is paused."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import run_cli

pytestmark = pytest.mark.timeout(60)


async def test_resume_says_where_the_work_stands(repo: Path) -> None:
    async with await ScribeClient.spawn(repo) as client:
        await client.request("scribe/startSession", {"title": "Cache the packets"})
        await client.request("scribe/appendEntry", {"text": "key the cache by HEAD", "kind": "decision"})
        await client.request("scribe/appendEntry", {"text": "measure the hit rate", "kind": "todo"})
        await client.request("scribe/appendEntry", {"text": "wip: the eviction", "files": ["cache.py"]})
        (repo / "cache.py").write_text("CACHE = {}\n")
        await client.request("scribe/summarize", {})
        packet = await client.request("scribe/resume", {})
        assert packet["session"]["backlogId"] == "B-4242"
        assert packet["decisions"] == ["key the cache by HEAD"]
        assert packet["openTodos"] == ["measure the hit rate"]
        assert packet["inProgress"] == ["the eviction"]
        assert packet["lastFiles"] == ["cache.py"]
        assert {"path": "cache.py", "added": None, "deleted": None} in packet["uncommitted"]
        assert packet["lastSummary"]["path"].endswith("B-4242-summary.md")
        assert 0 <= packet["secondsSinceActivity"] < 60
        assert packet["markdown"].startswith("# Resume B-4242: Cache the packets\n")
        assert "## Open todos\n\n- measure the hit rate" in packet["markdown"]
        with pytest.raises(Exception, match="backlogId: no session for B-99"):
            await client.request("scribe/resume", {"backlogId": "B-99"})
    text = run_cli(repo, "resume", "B-4242")
    assert text.returncode == 0 and "key the cache by HEAD" in text.stdout
    as_json = json.loads(run_cli(repo, "resume", "--json").stdout)
    assert as_json["openTodos"] == ["measure the hit rate"]


async def test_an_editor_opening_a_paused_session_is_offered_a_resume_once(repo: Path) -> None:
    run_cli(repo, "start")
    run_cli(repo, "append", "--kind", "decision", "paused mid-way")
    session = json.loads(run_cli(repo, "list", "--json").stdout)["sessions"][0]
    assert (
        run_cli(
            repo, "call", "scribe/updateSession", json.dumps({"sessionId": session["id"], "status": "paused"})
        ).returncode
        == 0
    )
    async with await ScribeClient.spawn(repo) as client:
        offered = await client.next_notification("scribe/resumeAvailable", timeout=10)
        assert offered["session"]["id"] == session["id"] and offered["decisions"] == ["paused mid-way"]
        await client.request("scribe/status")
        assert "scribe/resumeAvailable" not in [m for m, _ in client.drain_notifications()]
    # An active session is not offered: the work is under way.
    run_cli(repo, "start")
    async with await ScribeClient.spawn(repo) as client:
        await client.request("scribe/status")
        await asyncio.sleep(0.3)
        assert "scribe/resumeAvailable" not in [m for m, _ in client.drain_notifications()]
