"""``scribe-ls compact``: old activity rolled up per session and day, totals and search kept
(the real CLI on the real SQLite file, history a year old written through the store)."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scribe_ls.store.database import Store

from .helpers import run_cli

pytestmark = pytest.mark.timeout(60)


def cli_json(root: Path, *args: str) -> dict:
    done = run_cli(root, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def at(days_ago: int, hour: int, minute: int) -> str:
    day = datetime.now(UTC) - timedelta(days=days_ago)
    moment = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seed_history(root: Path) -> str:
    """A session with three old days of saves (activity every few minutes, one with its
    own words), an old decision, and yesterday's saves."""
    session_id = cli_json(root, "start")["id"]
    store = Store(root)
    store.open()
    with store._tx():
        # History as if written then: time goes forward from the first old day.
        store.conn.execute("DELETE FROM spans WHERE session_id = ?", (session_id,))
        for days_ago in (200, 199, 150):
            for n in range(12):
                text = f"Changes: {n % 3 + 1} file(s)"
                if (days_ago, n) == (199, 5):
                    text = "regenerated the zanzibar fixtures"
                files = [f"src/mod{n % 4}.py"]
                store._insert_entry(session_id, "activity", text, files, at(days_ago, 10, n * 4))
            decision = "kept the day boundary local"
            store._insert_entry(session_id, "decision", decision, [], at(days_ago, 11, 0))
        for n in range(3):
            store._insert_entry(session_id, "activity", "Changes: 1 file(s)", ["src/new.py"], at(1, 9, n))
    store.close()
    assert run_cli(root, "validate", "--fix").returncode == 0  # its worklog rendered
    return session_id


def test_compact_rolls_old_activity_up_and_keeps_time_files_and_search(repo: Path) -> None:
    session_id = seed_history(repo)
    time_before = cli_json(repo, "report", "--since", "400d")
    assert time_before["totalSeconds"] > 3 * 40 * 60  # 44 minutes on each old day
    session_before = cli_json(repo, "info")
    zanzibar_before = cli_json(repo, "search", "zanzibar")["hits"]
    assert len(zanzibar_before) == 1

    dry = cli_json(repo, "compact", "--older-than", "30", "--dry-run")
    assert (dry["rollups"], dry["entriesRemoved"]) == (3, 33)
    assert dry["sizeAfter"]["entries"] == dry["entriesBefore"]  # a dry run changes nothing

    done = cli_json(repo, "compact", "--older-than", "30")
    assert (done["rollups"], done["entriesRemoved"], done["sessions"]) == (3, 33, 1)
    assert done["sizeAfter"]["entries"] == done["entriesBefore"] - 33
    assert done["sizeAfter"]["freePercent"] == 0  # the freed pages went back (incremental vacuum)

    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    activity = db.execute("SELECT at, text FROM entries WHERE kind = 'activity' ORDER BY id").fetchall()
    old, recent = activity[:3], activity[3:]
    # 10:00 UTC is the same calendar day from UTC-9 to UTC+13, whatever the local zone.
    assert [text.splitlines()[0] for _, text in old] == [
        f"Activity of {at(days_ago, 10, 0)[:10]}, compacted: 12 entries, {changes} file change(s)"
        for days_ago, changes in ((200, 24), (199, 21), (150, 24))
    ]
    assert [when for when, _ in old] == [at(days_ago, 10, 0) for days_ago in (200, 199, 150)]  # the first
    assert len(recent) == 3 and all(text == "Changes: 1 file(s)" for _, text in recent)  # recent: untouched
    assert db.execute("SELECT COUNT(*) FROM entries WHERE kind = 'decision'").fetchone()[0] == 3
    db.close()

    # Totals kept: time per item, files touched; the session counts what it now holds.
    assert cli_json(repo, "report", "--since", "400d") == time_before
    session_after = cli_json(repo, "info")
    assert session_after["stats"]["filesChanged"] == session_before["stats"]["filesChanged"]
    assert session_after["stats"]["entries"] == session_before["stats"]["entries"] - 33
    # Search: what found a compacted entry finds its roll-up (the index followed).
    zanzibar = cli_json(repo, "search", "zanzibar")["hits"]
    assert len(zanzibar) == 1 and "compacted" in zanzibar[0]["entry"]["text"]
    assert "src/mod3.py" in zanzibar[0]["entry"]["files"]
    # The worklog was rendered again from the store, and everything is consistent.
    assert run_cli(repo, "validate").returncode == 0
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert worklog.count("compacted: 12 entries") == 3 and "kept the day boundary local" in worklog
    assert session_id in json.dumps(cli_json(repo, "list"))
    # Twice is once: nothing older is left to roll up.
    again = cli_json(repo, "compact", "--older-than", "30")
    assert (again["rollups"], again["entriesRemoved"]) == (0, 0)


@pytest.mark.parametrize("days", ["0", "-3", "999999999"])
def test_compact_refuses_a_bad_age_naming_it(repo: Path, days: str) -> None:
    run_cli(repo, "start")
    done = run_cli(repo, "compact", "--older-than", days)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("scribe-ls: --older-than: must be a whole number of days")
