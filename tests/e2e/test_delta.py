"""Delta packets over the wire: `scribe/getContext {since: etag}` answers only what changed
since that packet, with provenance (entry ids, authors, commit shas, paths)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.context.tokens import estimate_tokens
from scribe_ls.rpc.client import ScribeClient

from .helpers import git
from .test_recording import armed

pytestmark = pytest.mark.timeout(60)


async def entry_pushed(client: ScribeClient, accept: Any) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            params = await client.next_notification("scribe/entryAdded", timeout=10)
            if accept(params["entry"]):
                return params["entry"]

    return await asyncio.wait_for(wait(), 15)


async def test_after_one_note_a_delta_holds_that_note_and_nothing_else(repo: Path) -> None:
    async with await ScribeClient.spawn(repo) as client:
        await client.request("scribe/startSession", {})
        full = await client.request("scribe/getContext", {})
        assert full["full"] is True and len(full["etag"]) == 16
        note = await client.request("scribe/appendEntry", {"text": "one more thing", "author": "an-agent"})
        delta = await client.request("scribe/getContext", {"since": full["etag"]})
        assert delta["full"] is False and delta["since"] == full["etag"] and delta["etag"] != full["etag"]
        assert list(delta["sections"]) == ["worklog"]
        [item] = delta["sections"]["worklog"]["data"]
        assert (item["id"], item["text"], item["author"]) == (note["id"], "one more thing", "an-agent")
        assert set(delta["unchanged"]) == set(full["sections"]) - {"worklog"}
        assert delta["stats"]["entries"] == full["sections"]["session"]["data"]["stats"]["entries"] + 1
        # An agent polling every turn pays for the change, not the packet.
        assert delta["tokens"] * 5 < full["tokens"]
        again = await client.request("scribe/getContext", {"since": delta["etag"]})
        assert again["sections"] == {} and again["full"] is False
        markdown = await client.request("scribe/getContext", {"format": "markdown"})
        await client.request("scribe/appendEntry", {"text": "noted in markdown"})
        changes = await client.request("scribe/getContext", {"format": "markdown", "since": markdown["etag"]})
        assert "noted in markdown" in changes["markdown"] and "## Git" not in changes["markdown"]
        assert changes["tokens"] == estimate_tokens(changes["markdown"])


async def test_after_a_commit_the_delta_has_the_commit_and_the_files_it_took(repo: Path) -> None:
    async with await ScribeClient.spawn(repo) as client:
        await client.request("scribe/startSession", {})
        await armed(client, repo)
        git(repo, "add", "probe.txt")
        git(repo, "commit", "-q", "-m", "The probe")
        await entry_pushed(client, lambda e: e["kind"] == "commit")
        (repo / "feature.py").write_text("def feature():\n    return 1\n")
        await asyncio.sleep(0.3)
        before = await client.request("scribe/getContext", {"sections": ["git", "diff", "commits"]})
        assert [f["path"] for f in before["sections"]["git"]["data"]["files"]] == ["feature.py"]
        git(repo, "add", "feature.py")
        git(repo, "commit", "-q", "-m", "Add the feature")
        await entry_pushed(client, lambda e: e["kind"] == "commit")
        delta = await client.request(
            "scribe/getContext", {"sections": ["git", "diff", "commits"], "since": before["etag"]}
        )
        assert delta["full"] is False
        [commit] = delta["sections"]["commits"]["data"]
        assert commit["subject"] == "Add the feature" and len(commit["sha"]) >= 7
        assert delta["sections"]["git"]["removed"] == {"files": ["feature.py"]}
        assert delta["sections"]["diff"]["removed"] == {"files": ["feature.py"]}


async def test_an_etag_the_server_does_not_know_gets_a_full_packet(repo: Path) -> None:
    async with await ScribeClient.spawn(repo) as client:
        await client.request("scribe/startSession", {})
        stale = await client.request("scribe/getContext", {"since": "0123456789abcdef"})
        assert stale["full"] is True and "session" in stale["sections"]
        # Another request shape (other sections) is not a base either.
        some = await client.request("scribe/getContext", {"sections": ["worklog"]})
        other = await client.request("scribe/getContext", {"since": some["etag"]})
        assert other["full"] is True
        with pytest.raises(Exception, match="since"):
            await client.request("scribe/getContext", {"since": 42})
