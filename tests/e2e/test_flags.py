"""Feature flags, each against the real server: background summaries, polling instead of
events, no notifications, context sections one after another."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import configure
from .test_recording import armed, next_matching

pytestmark = pytest.mark.timeout(60)


async def test_summaries_refresh_in_the_background_after_entries_and_a_stop(repo: Path) -> None:
    configure(repo, "summary_every = 3\n")
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        # The start's two system entries and this note make three: a refresh, unasked.
        await client.request("scribe/appendEntry", {"text": "done: step 0"})
        ready = await next_matching(client, "scribe/summaryReady", lambda p: True, 10)
        assert ready["sessionId"] == session["id"]
        summary = Path(ready["path"])
        assert "step 0" in await asyncio.to_thread(summary.read_text)
        client.drain_notifications()
        await client.request("scribe/appendEntry", {"text": "done: step 1"})
        await client.request("scribe/stopSession", {})  # a stop refreshes it too
        await next_matching(client, "scribe/summaryReady", lambda p: p["sessionId"] == session["id"], 10)
        assert "step 1" in await asyncio.to_thread(summary.read_text)
        status = await client.request("scribe/status")
        assert status["summaries"]["enabled"] and status["summaries"]["done"] >= 2
    finally:
        await client.close()


async def test_background_summaries_can_be_turned_off(repo: Path) -> None:
    configure(repo, "summary_every = 1\nbackground_summaries = false\n")
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await client.request("scribe/appendEntry", {"text": "a note"})
        await client.request("scribe/stopSession", {})
        with pytest.raises(TimeoutError):
            await next_matching(client, "scribe/summaryReady", lambda p: True, 1.5)
        assert not (repo / ".scribe" / "summaries" / "B-4242-summary.md").exists()
        assert (await client.request("scribe/status"))["summaries"]["enabled"] is False
    finally:
        await client.close()


async def test_polling_records_saves_where_events_are_not_used(
    repo: Path, user_config: Callable[[str], Path]
) -> None:
    user_config('watch = "poll"\npoll_interval = 0.1\n')  # the user's to choose, not the repository's
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await armed(client, repo)  # a save is seen by polling
        status = await client.request("scribe/status")
        assert status["watcher"]["mode"] == "poll" and status["watcher"]["running"]
    finally:
        await client.close()


async def test_notifications_can_be_turned_off_for_the_repository(repo: Path) -> None:
    configure(repo, "notifications = false\n")
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await client.request("scribe/appendEntry", {"text": "quiet"})
        with pytest.raises(TimeoutError):
            await next_matching(client, "scribe/entryAdded", lambda p: True, 1.0)
        assert (await client.request("scribe/status"))["currentSession"]["stats"]["entries"] == 3
    finally:
        await client.close()


async def test_context_sections_one_after_another(repo: Path) -> None:
    configure(repo, "parallel_context = false\n")
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        packet = await client.request("scribe/getContext", {})
        sections = packet["sections"]
        assert all(section["ok"] for section in sections.values())
        # One after another: the packet took at least as long as its sections together.
        assert packet["elapsedMs"] + 1 >= sum(section["elapsedMs"] for section in sections.values())
    finally:
        await client.close()


def test_flag_values_are_checked(repo: Path) -> None:
    from .helpers import run_cli

    configure(repo, 'watch = "sometimes"\npoll_interval = 0\nsummary_every = 0\nnotifications = "no"\n')
    done = run_cli(repo, "status")
    for problem in (
        'watch must be "events" or "poll"',
        "poll_interval must be a number of seconds from 0.05 to 60",
        "summary_every must be an integer, at least 1",
        "notifications must be true or false",
    ):
        assert problem in done.stderr, done.stderr
