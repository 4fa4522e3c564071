"""Sharing through the repository's own git remote: a bare repository as the remote, clones
as developers (each with their own $HOME, XDG dirs and git identity), `scribe-ls share on`
and `scribe-ls sync` run as they would run them, the real store and the remote's objects
read back with git."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
from pathlib import Path
from typing import Any

from scribe_ls.rpc.client import ScribeClient

from .helpers import git
from .teams import Developer, ana, bo, remote, sharing

__all__ = ["ana", "bo", "remote"]  # fixtures


def test_a_session_a_note_and_a_file_change_reach_a_teammate_after_one_sync(
    ana: Developer, bo: Developer
) -> None:
    sharing(ana, bo)
    ana.cli("append", "--file", "src/x.py", "--kind", "decision", "cache the packet per HEAD")
    assert ana.sync()["pushed"] is True
    seen = bo.sync()
    assert sum(seen["imported"].values()) >= 5 and seen["warnings"] == []

    (person,) = json.loads(bo.cli("team", "--json").stdout)["people"]
    assert person["author"] == "Ana Lima <ana@example.com>" and person["verified"] is True
    (session,) = person["sessions"]
    assert session["item"] == "B-1300" and session["files"] == ["src/x.py"] and session["status"] == "active"
    timeline = bo.cli("team", "--item", "B-1300").stdout
    assert "Ana Lima <ana@example.com>  decision: cache the packet per HEAD [src/x.py]" in timeline
    assert "B-1300 active since" in bo.cli("team").stdout


def test_the_team_reports_say_each_persons_time_decisions_and_commits(ana: Developer, bo: Developer) -> None:
    sharing(ana, bo)
    bo.cli("append", "--kind", "decision", "use oauth, not api keys")

    async def commit_recorded() -> None:  # Bo's editor records the commit
        client = await ScribeClient.spawn(bo.root, env=bo.env)
        try:
            await client.request("scribe/status", {})
            (bo.root / "oauth.py").write_text("FLOW = 1\n")
            bo.git("add", "oauth.py")
            bo.git("commit", "-q", "-m", "Add the oauth flow")
            while True:
                params = await client.next_notification("scribe/entryAdded", timeout=15)
                if params["entry"]["kind"] == "commit":
                    return
        finally:
            await client.close()

    asyncio.run(commit_recorded())
    bo.sync()
    ana.sync()
    rows = json.loads(ana.cli("report", "--team", "--json").stdout)["rows"]
    assert {(r["teammate"], r["item"]) for r in rows} == {
        ("you", "B-1300"),
        ("Bo Chen <bo@example.com>", "B-1400"),
    }
    team = json.loads(ana.cli("report", "standup", "--team", "--json").stdout)
    assert team["kind"] == "team" and [p["author"] for p in team["people"]] == [
        "you",
        "Bo Chen <bo@example.com>",
    ]
    (item,) = team["people"][1]["items"]
    assert item["item"] == "B-1400" and item["title"] == "auth"
    assert item["decisions"] == ["use oauth, not api keys"]
    assert [commit.split(" ", 1)[1] for commit in item["commits"]] == ["Add the oauth flow"]
    shown = ana.cli("report", "team", "--format", "markdown").stdout
    assert (
        "### Bo Chen \\<bo@example.com\\>" in shown and "- B-1400 decided: use oauth, not api keys" in shown
    )
    refused = ana.cli("report", "--team", "--by", "day", ok=False)
    assert refused.returncode == 2 and "--by" in refused.stderr


def test_nothing_is_shared_until_sharing_is_turned_on_and_the_dry_run_writes_nothing(
    ana: Developer, remote: Path
) -> None:
    ana.cli("start")
    refused = ana.cli("sync", ok=False)
    assert refused.returncode == 1 and "sharing is off" in refused.stderr
    assert "sharing: off" in ana.cli("share").stdout
    ana.cli("share", "on")
    shown = ana.cli("share", "--dry-run").stdout
    assert "the next sync writes" in shown and '"t": "session"' in shown and "B-1300" in shown
    assert "refs/scribe/" not in ana.git("for-each-ref"), "a dry run writes no ref"
    assert "scribe" not in git(remote, "for-each-ref"), "nor anything on the remote"
    ana.cli("share", "off")
    assert ana.cli("sync", ok=False).returncode == 1


def test_both_editing_one_file_each_hear_of_the_other_in_their_editor(ana: Developer, bo: Developer) -> None:
    """Both run a server (their editor) with the recorder; both save src/x.py; after their
    syncs each editor gets scribe/overlap naming the teammate, and each packet lists them."""

    for dev in (ana, bo):
        (dev.root / ".scribe").mkdir(exist_ok=True)
        (dev.root / ".scribe" / "config.toml").write_text("activity_window = 0.2\n")

    async def saved(dev: Developer, client: ScribeClient) -> None:
        """The developer saves src/x.py in the editor; the recorder writes its activity."""
        (dev.root / "src" / "x.py").write_text(f"x = '{dev.root.name}'\n")
        while True:
            entry = (await client.next_notification("scribe/entryAdded", timeout=10))["entry"]
            if entry["kind"] == "activity" and "src/x.py" in entry["files"]:
                return

    async def play() -> None:
        clients = [await ScribeClient.spawn(dev.root, env=dev.env) for dev in (ana, bo)]
        try:
            for dev, client in zip((ana, bo), clients, strict=True):
                await client.request("scribe/startSession", {})
                assert (await client.request("scribe/status", {}))["watcher"]["running"]
                await saved(dev, client)
                dev.cli("share", "on")
            await asyncio.to_thread(ana.sync)
            await asyncio.to_thread(bo.sync)  # Bo hears of Ana
            await asyncio.to_thread(ana.sync)  # Ana hears of Bo
            for client, other in zip(
                clients, ("Bo Chen <bo@example.com>", "Ana Lima <ana@example.com>"), strict=True
            ):
                params = await client.next_notification("scribe/overlap", timeout=10)
                assert params["files"] == ["src/x.py"] and params["otherSession"]["teammate"] == other
                assert f"a teammate ({other}) is changing src/x.py" in params["message"]
                packet = await client.request(
                    "scribe/getContext", {"sections": ["sessions"], "format": "markdown"}
                )
                (listed,) = packet["sections"]["sessions"]["data"]
                assert listed["teammate"] == other and listed["sharedFiles"] == ["src/x.py"]
                (person,) = (await client.request("scribe/team", {}))["people"]
                assert person["author"] == other and person["sessions"][0]["files"] == ["src/x.py"]
                assert (
                    f"teammate {other.replace('<', chr(92) + '<').replace('>', chr(92) + '>')}"
                    in packet["markdown"]
                )
        finally:
            for client in clients:
                await client.close()

    asyncio.run(play())


def test_a_sync_cut_before_it_marked_what_it_wrote_writes_it_again_and_it_is_read_once(
    ana: Developer, bo: Developer
) -> None:
    import sqlite3

    sharing(ana, bo)
    ana.cli("append", "said once")
    ana.sync()
    # As if the last sync had died after writing its segment, before marking it shared.
    with sqlite3.connect(ana.root / ".scribe" / "scribe.db") as db:
        db.execute("DELETE FROM share_state WHERE key IN ('last_entry', 'said_hello')")
        db.execute("DELETE FROM shared_sessions")
        db.execute("DELETE FROM shared_time")
    again = ana.sync()
    assert again["exported"] >= 4 and again["pushed"] is True, "the same records, written again"
    bo.sync()
    timeline = bo.cli("team", "--item", "B-1300").stdout
    assert timeline.count("note: said once") == 1


def test_one_developers_two_clones_are_one_author_with_one_timeline(tmp_path: Path, remote: Path) -> None:
    laptop = Developer(tmp_path, remote, "Ana Lima", "ana@example.com", "feature/B-1300-cache", "laptop")
    desktop = Developer(tmp_path, remote, "Ana Lima", "Ana@Example.com", "feature/B-1300-cache", "desktop")
    sharing(laptop, desktop)
    laptop.cli("append", "started on the laptop")
    desktop.cli("append", "went on at the desk")
    laptop.sync()
    desktop.sync()
    laptop.sync()
    (me,) = json.loads(laptop.cli("team", "--json").stdout)["people"]
    assert me["you"] is True and me["machines"] == 1
    timeline = laptop.cli("team", "--item", "B-1300").stdout
    assert "this machine  note: started on the laptop" in timeline
    assert "(your other machine)  note: went on at the desk" in timeline
    refs = git(remote, "for-each-ref", "--format=%(refname)", "refs/scribe/").split()
    assert len(refs) == 2 and len({ref.split("/")[2] for ref in refs}) == 1, "one author, one ref per machine"


def test_an_unreachable_remote_loses_nothing_and_the_next_sync_recovers(
    ana: Developer, bo: Developer, remote: Path, tmp_path: Path
) -> None:
    sharing(ana, bo)
    ana.sync()
    away = tmp_path / "remote-away.git"
    remote.rename(away)
    ana.cli("append", "written while offline")
    failed = ana.cli("sync", ok=False)
    assert failed.returncode == 1 and "unreachable" in failed.stderr and "kept here" in failed.stderr
    status = json.loads(ana.cli("share", "--json").stdout)
    assert status["failures"] == 1 and "unreachable" in status["lastError"]
    away.rename(remote)
    assert ana.sync()["pushed"] is True
    assert json.loads(ana.cli("share", "--json").stdout)["failures"] == 0
    bo.sync()
    assert "note: written while offline" in bo.cli("team", "--item", "B-1300").stdout


def test_both_pushing_at_once_never_loses_either(ana: Developer, bo: Developer) -> None:
    sharing(ana, bo)
    for n in range(5):
        ana.cli("append", f"ana {n}")
        bo.cli("append", f"bo {n}")
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda dev=dev: results.append(dev.sync())) for dev in (ana, bo)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r["pushed"] for r in results] == [True, True]
    ana.sync()
    bo.sync()
    assert all(f"note: bo {n}" in ana.cli("team", "--item", "B-1400").stdout for n in range(5))
    assert all(f"note: ana {n}" in bo.cli("team", "--item", "B-1300").stdout for n in range(5))


def test_the_recorder_shares_soon_after_starting_and_after_the_users_own_push(
    ana: Developer, bo: Developer, remote: Path
) -> None:
    """Ana's editor records with sharing on (sync_interval is 120 s): it syncs a moment
    after it starts, then after her own `git push`, not before; Bo's session reaches her
    editor as an overlap, and status says how sharing went."""
    from .helpers import wait_until

    sharing(bo)
    bo.cli("append", "--file", "src/x.py", "auth first")
    bo.sync()
    ana.cli("share", "on")
    ours = f"refs/scribe/{json.loads(ana.cli('share', '--json').stdout)['ref'].split('/', 2)[2]}"

    def segments() -> int:
        found = subprocess.run(
            ["git", "--git-dir", str(remote), "rev-list", "--count", ours], capture_output=True, text=True
        )
        return int(found.stdout) if found.returncode == 0 else 0

    async def play() -> None:
        client = await ScribeClient.spawn(ana.root, env=ana.env)
        try:
            await client.request("scribe/startSession", {})
            await client.request("scribe/appendEntry", {"text": "on x", "files": ["src/x.py"]})
            await asyncio.to_thread(wait_until, segments, "the first sync", 20)
            overlap = await client.next_notification("scribe/overlap", timeout=20)
            assert overlap["otherSession"]["teammate"] == "Bo Chen <bo@example.com>"
            first = segments()
            await client.request("scribe/appendEntry", {"text": "before my push"})
            await asyncio.sleep(4)
            assert segments() == first, "no sync before the interval or a push"
            ana.git("commit", "-q", "--allow-empty", "-m", "wip")
            await asyncio.to_thread(ana.git, "push", "-q", "origin", "HEAD")
            await asyncio.to_thread(wait_until, lambda: segments() > first, "a sync after the push", 20)
            status = await client.request("scribe/status", {})
            assert status["sharing"]["on"] is True and status["sharing"]["failures"] == 0
            assert status["sharing"]["lastSyncAt"] is not None
        finally:
            await client.close()

    asyncio.run(play())
    assert "sharing:  with origin, last synced" in ana.cli("status").stdout
