"""A year of activity, then time reports over it.

Builds a real store in a temp git repository with 50 backlog items and a year of
generated activity (default 1,000,000 pulses: bursts on one item with gaps shorter and
longer than idle_gap, breaks, nights), written through the store's own pulse rule so the
spans and daily roll-ups are what recording would have made. Then times, in-process and
warm (the store open, as in a server), each report a user asks for over the whole year
and over a week, and `scribe-ls report` as a new process.

Target: a time report over the year answers in < 200 ms. Prints a table, then one JSON line.

    python bench/report.py [--pulses 1000000] [--items 50]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from _common import cli_command, make_repo, summary

from scribe_ls.config import Config
from scribe_ls.core.operations import Ledger
from scribe_ls.store import base as scribe_store
from scribe_ls.store.database import Store

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC).timestamp()


def generate(store: Store, sessions: list[str], pulses: int, seed: int) -> float:
    """``pulses`` moments of activity over the working days of 2026 (from 09:00, seconds
    apart, now and then a break past idle_gap, a lunch); returns the seconds it took."""
    rng = random.Random(seed)
    per_day = max(1, pulses // 365)
    started = time.perf_counter()
    current = sessions[0]
    written = 0
    for day in range(365):
        moment = YEAR_START + day * 86400 + 3600  # 09:00 UTC
        today = min(per_day, pulses - written) if day < 364 else pulses - written
        with store._tx():  # a day's pulses per transaction
            for _ in range(today):
                if rng.random() < 0.004:  # now and then the developer turns to another item
                    current = sessions[rng.randrange(len(sessions))]
                store._pulse(current, moment)
                roll = rng.random()
                moment += rng.choice((400, 900, 3600)) if roll < 0.003 else rng.expovariate(1 / 9)
        written += today
    return time.perf_counter() - started


def timed(call, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return summary(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulses", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = make_repo(Path(tmp) / "repo")
        store = Store(root)
        store.open()
        store.tz = UTC
        ledger = Ledger(store, Config(max_active_sessions=args.items + 1))
        sessions = []
        # The sessions begin before the year (a pulse older than a session's last span is
        # time already counted): the store's clock is set back for their starts.
        real_clock = scribe_store.utc_now
        scribe_store.utc_now = lambda: datetime(2025, 12, 31, tzinfo=UTC)
        try:
            for n in range(args.items):
                started = ledger.start_session(f"B-{1000 + n}", title=f"Item {n}").session
                assert started is not None
                sessions.append(started.id)
        finally:
            scribe_store.utc_now = real_clock
        took = generate(store, sessions, args.pulses, seed=20261201)
        db = store.conn
        counts = {
            "pulses": db.execute("SELECT SUM(pulses) FROM time_daily").fetchone()[0],
            "spans": db.execute("SELECT COUNT(*) FROM spans").fetchone()[0],
            "rollup_rows": db.execute("SELECT COUNT(*) FROM time_daily").fetchone()[0],
        }
        year = {"since": "2026-01-01", "until": "2026-12-31"}
        week = {"since": "2026-06-01", "until": "2026-06-07"}
        figures = {
            "year_by_item": timed(lambda: ledger.report("time", **year, by="item"), args.repeat),
            "year_by_day": timed(lambda: ledger.report("time", **year, by="day"), args.repeat),
            "year_by_branch": timed(lambda: ledger.report("time", **year, by="branch"), args.repeat),
            "week_by_item": timed(lambda: ledger.report("time", **week, by="item"), args.repeat),
            "standup_one_day": timed(
                lambda: ledger.report("standup", since="2026-06-03", until="2026-06-03"), args.repeat
            ),
        }
        total = ledger.report("time", **year).to_wire()["totalSeconds"]
        store.close()
        # For comparison: the same total summed from the spans (a report without roll-ups).
        raw = sqlite3.connect(root / ".scribe" / "scribe.db")
        started = time.perf_counter()
        raw.execute("SELECT item, SUM(ended_at - started_at) FROM spans GROUP BY item").fetchall()
        spans_scan_ms = (time.perf_counter() - started) * 1000
        raw.close()
        cli = [*cli_command(), "report", "--since", "2026-01-01", "--until", "2026-12-31", "--json"]
        cli_ms = []
        for _ in range(5):
            started = time.perf_counter()
            done = subprocess.run(cli, cwd=root, capture_output=True, text=True, check=True)
            cli_ms.append((time.perf_counter() - started) * 1000)
        assert json.loads(done.stdout)["totalSeconds"] == total
        bare = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(["python3", "-c", "pass"], check=True)
            bare.append((time.perf_counter() - started) * 1000)

    print(f"a year of activity: {args.pulses:,} pulses, {args.items} items, written in {took:.1f} s")
    print(
        f"  {counts['spans']:,} spans, {counts['rollup_rows']:,} roll-up rows, {total / 3600:,.0f} h recorded"
    )
    print(f"{'report':<34}{'p50 ms':>10}{'p99 ms':>10}{'target':>12}")
    for name, row in figures.items():
        target = "< 200" if name.startswith("year") else ""
        print(f"{name:<34}{row['p50_ms']:>10.2f}{row['p99_ms']:>10.2f}{target:>12}")
    print(f"{'the same summed from the spans':<34}{spans_scan_ms:>10.2f}")
    print(
        f"{'scribe-ls report (a process)':<34}{summary(cli_ms)['p50_ms']:>10.1f}"
        f"   (bare python -c pass {summary(bare)['p50_ms']:.1f} ms)"
    )
    targets_met = all(figures[n]["p99_ms"] < 200 for n in figures if n.startswith("year"))
    print(
        json.dumps(
            {
                "bench": "report",
                "pulses": args.pulses,
                "items": args.items,
                "generate_s": round(took, 1),
                **counts,
                "reports": figures,
                "spans_scan_ms": round(spans_scan_ms, 2),
                "cli_report_p50_ms": summary(cli_ms)["p50_ms"],
                "bare_python_p50_ms": summary(bare)["p50_ms"],
                "day": date.today().isoformat(),
                "targets_met": targets_met,
            }
        )
    )


if __name__ == "__main__":
    main()
