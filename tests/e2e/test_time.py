"""Time per backlog item: pulses, spans, idle gaps, daily roll-ups and reports.

The year-long cases run on the real store file with a fake clock (every pulse carries its
moment) against a reference computed here from the pulses alone; the rest go through the
real server and the real CLI."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import sqlite3
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scribe_ls.config import Config
from scribe_ls.core import reports
from scribe_ls.core.operations import Ledger
from scribe_ls.core.timesheet import day_slices
from scribe_ls.model import iso
from scribe_ls.rpc.client import ScribeClient
from scribe_ls.store.database import Store
from scribe_ls.store.schema import MIGRATIONS, split_sql

from .helpers import configure, git, run_cli

pytestmark = pytest.mark.timeout(120)

NEW_YORK = ZoneInfo("America/New_York")  # two DST changes a year: days of 23 and 25 hours


class Clock:
    """The store's clocks, moved by hand: the wall clock every write is stamped with, and
    the monotonic clock that runs on however the wall clock is set (``set`` moves both
    by the same amount, as time passing does; ``set_wall`` only the wall clock, as a
    person or NTP setting it does)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.steady = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.steady += (moment - self.now).total_seconds()
        self.now = moment

    def advance(self, seconds: float) -> None:
        self.set(self.now + timedelta(seconds=seconds))

    def set_wall(self, moment: datetime) -> None:
        self.now = moment

    def monotonic(self) -> float:
        return self.steady


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    monkeypatch.setattr("scribe_ls.store.base.utc_now", fake)
    monkeypatch.setattr("scribe_ls.store.base.monotonic", fake.monotonic)
    monkeypatch.setattr("scribe_ls.core.operations.utc_now", fake)
    return fake


def open_ledger(repo: Path, tz: ZoneInfo = NEW_YORK, idle_gap: int = 300) -> Ledger:
    store = Store(repo)
    store.open()
    store.tz = tz
    return Ledger(store, Config(idle_gap=idle_gap, max_active_sessions=50))


def test_a_span_split_at_midnight_and_over_a_dst_change() -> None:
    start = datetime(2026, 3, 7, 23, 50, tzinfo=NEW_YORK).timestamp()
    end = datetime(2026, 3, 8, 0, 10, tzinfo=NEW_YORK).timestamp()
    assert day_slices(start, end, NEW_YORK) == [("2026-03-07", 600.0), ("2026-03-08", 600.0)]
    # 8 March 2026 has 23 hours in New York: a whole day's span is 82800 s on that day.
    day_start = datetime(2026, 3, 8, tzinfo=NEW_YORK).timestamp()
    day_end = datetime(2026, 3, 9, tzinfo=NEW_YORK).timestamp()
    assert day_slices(day_start, day_end, NEW_YORK) == [("2026-03-08", 82800.0)]


def test_pulses_make_spans_and_gaps_end_them(repo: Path, clock: Clock) -> None:
    ledger = open_ledger(repo)
    t0 = datetime(2026, 6, 1, 9, 0, tzinfo=NEW_YORK)
    clock.set(t0)
    session = ledger.start_session().session
    assert session is not None
    for minutes in (0, 2, 4):  # 4 min of work
        ledger.heartbeat(session.id, t0 + timedelta(minutes=minutes))
    # 6 min without a pulse is more than idle_gap (5 min): that time is nobody's.
    ledger.heartbeat(session.id, t0 + timedelta(minutes=10))
    ledger.heartbeat(session.id, t0 + timedelta(minutes=13))  # 3 more
    assert ledger.get_session(session.id).stats.active_seconds == 7 * 60
    report = ledger.report("time", since="2026-06-01", until="2026-06-01")
    assert report.to_wire()["rows"][0]["seconds"] == 7 * 60
    ledger.store.close()


def test_two_sessions_taking_turns_are_not_counted_twice(repo: Path, clock: Clock) -> None:
    ledger = open_ledger(repo)
    t0 = datetime(2026, 6, 2, 9, 0, tzinfo=NEW_YORK)
    clock.set(t0 - timedelta(hours=1))
    first = ledger.start_session("B-1").session
    second = ledger.start_session("B-2").session
    assert first is not None and second is not None
    # Notes to either session, named; B-1 again after B-2's: a new span, not B-2's minute.
    for minutes, session in ((0, first), (1, second), (2, first), (3, first), (4, second)):
        clock.set(t0 + timedelta(minutes=minutes))
        ledger.append_entry(f"at {minutes}", "note", session.id)
    rows = {r["item"]: r["seconds"] for r in ledger.report("time", since="2026-06-02").to_wire()["rows"]}
    assert rows == {"B-1": 60, "B-2": 0}
    ledger.store.close()


def test_an_idle_pause_adds_no_time_and_a_stop_by_hand_does(repo: Path, clock: Clock) -> None:
    ledger = open_ledger(repo, idle_gap=3600)
    started = clock.now
    session = ledger.start_session().session
    assert session is not None
    # The idle timer pauses it 31 min later: a timer, not the developer.
    clock.set(started + timedelta(minutes=31))
    ledger.pause_idle_sessions()
    paused = ledger.get_session(session.id)
    assert paused.status == "paused" and paused.stats.active_seconds == 0
    # Resumed by hand, then stopped by hand 10 min later: those 10 min were work.
    clock.set(started + timedelta(minutes=40))
    ledger.update_session(session.id, status="active")
    clock.set(started + timedelta(minutes=50))
    stopped = ledger.stop_session(session.id).session
    assert stopped is not None and stopped.stats.active_seconds == 600
    ledger.store.close()


def test_a_clock_set_back_never_swallows_the_time_after_it(repo: Path, clock: Clock) -> None:
    ledger = open_ledger(repo)
    session = ledger.start_session("B-1").session
    assert session is not None
    clock.advance(60)
    ledger.append_entry("a minute in", "note", session.id)
    # The clock is set back an hour; the developer goes on writing a note a minute.
    clock.set_wall(clock.now - timedelta(hours=1))
    for minute in range(4):
        clock.advance(60)
        ledger.append_entry(f"note {minute}", "note", session.id)
    # Every minute counts, the hour that never happened does not: 1 + 4 minutes.
    assert ledger.get_session(session.id).stats.active_seconds == 5 * 60
    # And the clock set ahead a month, then back: no freeze, no month of work.
    clock.set_wall(clock.now + timedelta(days=30))
    clock.advance(60)
    ledger.append_entry("a month ahead", "note", session.id)
    clock.set_wall(clock.now - timedelta(days=30))
    clock.advance(60)
    ledger.append_entry("back again", "note", session.id)
    assert ledger.get_session(session.id).stats.active_seconds == 7 * 60
    ledger.store.close()


def test_an_entry_from_the_future_does_not_freeze_time_in_other_processes(repo: Path, clock: Clock) -> None:
    """Another process's pulse stamped a month ahead (its clock was wrong): pulses of this
    process's right clock open a new span instead of waiting a month to count."""
    ledger = open_ledger(repo)
    session = ledger.start_session("B-2").session
    assert session is not None
    ahead = clock.now + timedelta(days=30)
    ledger.heartbeat(session.id, ahead)  # an explicit time: not this process's live clock
    for _ in range(8):
        clock.advance(60)
        ledger.append_entry("working", "note", session.id)
    # The first note after the future pulse opens a span; the 7 minutes after it count.
    assert ledger.get_session(session.id).stats.active_seconds == 7 * 60
    ledger.store.close()


def test_a_pulse_slightly_late_is_inside_counted_time(repo: Path, clock: Clock) -> None:
    ledger = open_ledger(repo)
    session = ledger.start_session("B-3").session
    assert session is not None
    clock.advance(120)
    ledger.append_entry("two minutes", "note", session.id)
    ledger.heartbeat(session.id, clock.now - timedelta(seconds=30))  # committed late
    clock.advance(60)
    ledger.append_entry("three", "note", session.id)
    assert ledger.get_session(session.id).stats.active_seconds == 3 * 60
    ledger.store.close()


def _reference(pulses: list[tuple[float, str]], idle_gap: float) -> dict[tuple[str, str], float]:
    """Seconds per (local day, item) straight from the rule: consecutive pulses of the
    same item no further apart than idle_gap count the time between them."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for (before, item_a), (after, item_b) in itertools.pairwise(pulses):
        if item_a != item_b or after - before > idle_gap or after <= before:
            continue
        moment = before
        while moment < after:  # cut at each local midnight, found by walking days
            here = datetime.fromtimestamp(moment, NEW_YORK)
            midnight = datetime.combine(here.date() + timedelta(days=1), datetime.min.time(), NEW_YORK)
            cut = min(after, midnight.timestamp())
            totals[(here.date().isoformat(), item_a)] += cut - moment
            moment = cut
    return totals


def test_a_year_of_generated_activity_reports_what_the_pulses_say(repo: Path, clock: Clock) -> None:
    """365 days of pulses for 12 items (bursts, breaks longer and shorter than the gap,
    work past midnight, DST days), then reports by item, day and branch over the year and
    over sub-ranges, and every session's active time, against the reference."""
    ledger = open_ledger(repo)
    rng = random.Random(20261201)
    items = [f"B-{n}" for n in range(100, 112)]
    clock.set(datetime(2025, 12, 31, tzinfo=UTC))
    sessions = {}
    for item in items:
        started = ledger.start_session(item).session
        assert started is not None
        sessions[item] = started.id
    pulses: list[tuple[float, str]] = []
    moment = datetime(2026, 1, 1, 8, 0, tzinfo=NEW_YORK).timestamp()
    end = datetime(2027, 1, 1, tzinfo=NEW_YORK).timestamp()
    while moment < end:
        item = rng.choice(items)
        for _ in range(rng.randint(1, 40)):  # a burst on one item
            pulses.append((moment, item))
            moment += rng.choice((5, 30, 90, 240, 299, 301, 600)) + rng.random()
        moment += rng.choice((60, 400, 3600, 8 * 3600))  # a break, sometimes overnight
    store = ledger.store
    with store._tx():  # one transaction for the year: the rule is the same, the test fast
        for at, item in pulses:
            store._pulse(sessions[item], at)
    expected = _reference(pulses, 300)
    year = ledger.report("time", since="2026-01-01", until="2026-12-31", by="item").to_wire()
    per_item: dict[str, float] = defaultdict(float)
    for (_, item), seconds in expected.items():
        per_item[item] += seconds
    assert {r["item"]: r["seconds"] for r in year["rows"]} == {i: round(s) for i, s in per_item.items()}
    assert [r["seconds"] for r in year["rows"]] == sorted((r["seconds"] for r in year["rows"]), reverse=True)
    by_day = ledger.report("time", since="2026-01-01", until="2026-12-31", by="day").to_wire()
    got = {(r["day"], r["item"]): r["seconds"] for r in by_day["rows"] if r["seconds"]}
    assert got == {key: round(s) for key, s in expected.items() if round(s)}
    assert [r["day"] for r in by_day["rows"]] == sorted(r["day"] for r in by_day["rows"])
    # A sub-range reads only its days: the DST week of March.
    march = ledger.report("time", since="2026-03-06", until="2026-03-10").to_wire()
    in_march = defaultdict(float)
    for (day, item), seconds in expected.items():
        if "2026-03-06" <= day <= "2026-03-10":
            in_march[item] += seconds
    assert {r["item"]: r["seconds"] for r in march["rows"]} == {i: round(s) for i, s in in_march.items()}
    branch = ledger.report("time", since="2026-01-01", until="2026-12-31", by="branch").to_wire()
    assert {r["branch"] for r in branch["rows"]} == {"feature/B-4242-x"}
    assert branch["totalSeconds"] == year["totalSeconds"]
    for item, session_id in sessions.items():
        assert ledger.get_session(session_id).stats.active_seconds == int(per_item[item])
    ledger.store.close()


def test_a_store_of_schema_4_keeps_the_active_time_it_had(repo: Path) -> None:
    (repo / ".scribe").mkdir()
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    for version in range(1, 5):
        for statement in split_sql(MIGRATIONS[version]):
            db.execute(statement)
    db.execute("PRAGMA user_version = 4")
    an_hour_ago = iso(datetime.now(UTC) - timedelta(hours=1))
    db.execute(
        "INSERT INTO sessions (id, backlog_id, title, root, status, type, priority, started_at,"
        " last_activity_at, active_since, active_seconds, idle_timeout)"
        " VALUES ('s-000000000001', 'B-1', 't', ?, 'active', 'development', 'medium', ?, ?, ?, 60, 1800)",
        (str(repo), an_hour_ago, an_hour_ago, an_hour_ago),
    )
    db.commit()
    db.close()
    ledger = open_ledger(repo)
    kept = ledger.get_session("s-000000000001").stats.active_seconds
    assert 3660 <= kept <= 3700  # the minute it had plus the hour since, and no more later
    ledger.store.close()


async def test_heartbeats_over_the_wire_credit_the_current_session(repo: Path) -> None:
    async with await ScribeClient.spawn(repo) as client:
        session = await client.request("scribe/startSession", {})
        # A notification gets no answer, a bad one neither, and the server goes on.
        client.notify("scribe/heartbeat", {"sessionId": 42})
        client.notify("scribe/heartbeat", {})
        credited = await client.request("scribe/heartbeat", {})
        # Within 30 s of the first beat: merged, written at the end of the window.
        assert credited == {"session": None}
        named = await client.request("scribe/heartbeat", {"sessionId": session["id"]})
        assert named["session"]["id"] == session["id"]
        with pytest.raises(Exception) as bad:
            await client.request("scribe/heartbeat", {"sessionId": 42})
        assert "sessionId" in str(bad.value)
        status = await client.request("scribe/status")
        assert status["currentSessionId"] == session["id"]
        report = await client.request("scribe/report", {"since": "today"})
        assert [row["item"] for row in report["rows"]] == ["B-4242"]
        assert report["rows"][0]["pulses"] >= 4  # the start, its branch entry, two beats
        # The bad beat was logged, not shown: an editor sends one every 30 s.
        assert "window/showMessage" not in [method for method, _ in client.drain_notifications()]


async def test_heartbeats_merged_in_a_window_are_written_when_the_server_closes(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    await client.request("scribe/startSession", {})
    await client.request("scribe/heartbeat", {})
    await client.request("scribe/heartbeat", {})  # merged
    await client.close()
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    (pulses,) = db.execute("SELECT SUM(pulses) FROM time_daily").fetchone()
    db.close()
    assert pulses == 4  # Session started, Branch: …, and both beats


def test_the_cli_reports_time_in_every_format_and_a_standup(repo: Path, clock: Clock) -> None:
    configure(repo, "idle_gap = 600\n")
    ledger = open_ledger(repo, tz=None, idle_gap=600)  # the machine's days, as the CLI's
    ten = datetime.combine(date.today(), time(10)).astimezone()  # today, whenever it runs
    clock.set(ten)
    session = ledger.start_session(title="Cache the packets").session
    assert session is not None
    for minutes, text, kind in (
        (5, "decided: key the cache by HEAD", "decision"),
        (10, "next: measure the hit rate", "todo"),
        (15, "done: the cache", "note"),
        (20, "done: measure the hit rate", "todo"),
        (25, "write the docs", "todo"),
    ):
        clock.set(ten + timedelta(minutes=minutes))
        ledger.append_entry(text, kind)
    ledger.store.close()
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", "Cache packets per HEAD")
    run_cli(repo, "append", "the commit is recorded by a server; this note is not a commit")

    table = run_cli(repo, "report")
    assert table.returncode == 0, table.stderr
    assert "B-4242" in table.stdout and "Cache the packets" in table.stdout and "total" in table.stdout
    as_csv = list(csv.DictReader(io.StringIO(run_cli(repo, "report", "--format", "csv").stdout)))
    assert as_csv[0]["item"] == "B-4242" and as_csv[0]["seconds"] == str(25 * 60)
    assert as_csv[0]["hours"] == "0.42"
    as_json = json.loads(run_cli(repo, "report", "--json", "--by", "day").stdout)
    assert as_json["by"] == "day" and as_json["rows"][-1]["day"] == reports.today(None).isoformat()
    markdown = run_cli(repo, "report", "--format", "markdown", "--by", "branch").stdout
    assert "| branch | item | title | time | hours |" in markdown and "feature/B-4242-x" in markdown

    standup = json.loads(run_cli(repo, "report", "standup", "--json").stdout)
    (item,) = standup["items"]
    assert item["decisions"] == ["decided: key the cache by HEAD"]
    assert item["completed"] == ["the cache", "measure the hit rate"]
    assert item["openTodos"] == ["write the docs"]  # the step reported done is not open
    text = run_cli(repo, "report", "standup").stdout
    assert "Open todos:" in text and "write the docs" in text

    wrong = run_cli(repo, "report", "--since", "last tuesday")
    assert wrong.returncode == 2 and "--since" in wrong.stderr and "YYYY-MM-DD" in wrong.stderr
    backwards = run_cli(repo, "report", "--since", "today", "--until", "yesterday")
    assert backwards.returncode == 2 and "--until" in backwards.stderr
    assert run_cli(repo, "report", "standup", "--format", "csv").returncode == 2


async def test_report_params_are_checked_by_name(repo: Path) -> None:
    async with await ScribeClient.spawn(repo) as client:
        for params, field in (
            ({"kind": "weekly"}, "kind"),
            ({"by": "month"}, "by"),
            ({"since": 20260101}, "since"),
            ({"until": "2026-13-01"}, "until"),
            ({"kind": "standup", "by": "day"}, "by"),
            ({"since": "2000-01-01", "until": "2026-01-01"}, "since"),
        ):
            with pytest.raises(Exception) as error:
                await client.request("scribe/report", params)
            assert f"{field}:" in str(error.value), params
        assert (await client.request("scribe/report", {"since": "week"}))["until"] == date.today().isoformat()
