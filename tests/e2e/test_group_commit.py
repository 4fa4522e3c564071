"""Group commit: appends a client sends together share transactions, and each is answered
only once it is durable (the real server over stdio, the real SQLite file)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from scribe_ls.errors import ScribeError
from scribe_ls.rpc.client import ScribeClient

pytestmark = pytest.mark.timeout(60)

APPENDS = 80


async def test_appends_sent_together_share_commits_and_are_acknowledged_only_when_stored(repo: Path) -> None:
    async with await ScribeClient.spawn(repo, initialization_options={"notifications": False}) as client:
        session = (await client.request("scribe/startSession", {}))["id"]
        # Another connection, as another process would see the file.
        reader = sqlite3.connect(f"file:{repo / '.scribe' / 'scribe.db'}?mode=ro", uri=True)

        async def append(n: int) -> int:
            params = {"text": f"pipelined note {n}", "sessionId": "S-missing" if n == 40 else session}
            entry = await client.request("scribe/appendEntry", params)
            # Acknowledged means committed: a reader of the file sees it at this moment.
            row = reader.execute("SELECT text FROM entries WHERE id = ?", (entry["id"],)).fetchone()
            assert row == (f"pipelined note {n}",), f"append {n} acknowledged before its commit"
            return int(entry["id"])

        results = await asyncio.wait_for(
            asyncio.gather(*(append(n) for n in range(APPENDS)), return_exceptions=True), 30
        )
        # The bad one failed alone, with its field named; the others in its group went in.
        failed = results.pop(40)
        assert isinstance(failed, ScribeError) and "sessionId" in failed.message
        assert all(isinstance(entry_id, int) for entry_id in results), results
        assert len(set(results)) == APPENDS - 1

        metrics = await client.request("scribe/metrics", {})
        grouped = metrics["groupCommit"]
        assert grouped["writes"] == APPENDS  # the failed one was in a group too
        assert grouped["commits"] < grouped["writes"], grouped  # they shared commits
        texts = [row[0] for row in reader.execute("SELECT text FROM entries WHERE kind = 'note' ORDER BY id")]
        assert sorted(texts) == sorted(f"pipelined note {n}" for n in range(APPENDS) if n != 40)
        reader.close()

    # Each worklog was brought up to date after its group's commit: every note is in it.
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert all(f"pipelined note {n}" in worklog for n in range(APPENDS) if n != 40)
    assert "pipelined note 40" not in worklog
