"""The background recorder: what it costs to keep 5 roots recorded, and how fast a save
becomes activity in the store through it, also while another root takes a storm.

A private user (its own runtime and state directories), 5 temp git repositories, and
`scribe-ls start` in each: the first start spawns the daemon, which records all five.
Then:

- idle: the daemon's RSS and its CPU time over a quiet stretch (from /proc);
- save -> activity: a file saved in one root (round robin), timed until the daemon's
  ``activity`` record naming it is in that root's store (the change-feed row every other
  process and editor reads, written at once; the worklog's ``Changes: N file(s)`` entry
  follows once per ``activity_window``);
- the same while 10,000 files are created in another root, and the RSS after it.

Targets: < 60 MB RSS and < 1 % of a core idle with 5 roots; save -> activity p50 <= 50 ms,
p99 <= 150 ms (watches awake); the first save after a quiet spell < 250 ms (a watch that
saw nothing for 10 s steps slowly: what keeps the idle CPU down); a storm in one root
delays another by < 200 ms. Prints a table, then one JSON line.

    python bench/daemon.py [--roots 5] [--saves 100] [--idle 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _common import cli_command, make_repo, summary

from scribe_ls.config import Config
from scribe_ls.recording.watch import HOT_SECONDS

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ACTIVITY_WINDOW = Config().activity_window


def proc_status(pid: int, key: str) -> float:
    """A /proc/<pid>/status figure in MB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


class Feed:
    """A reader of one root's change feed, as another process would read it."""

    def __init__(self, root: Path) -> None:
        self.db = sqlite3.connect(f"file:{root / '.scribe' / 'scribe.db'}?mode=ro", uri=True)
        self.last = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM changes").fetchone()[0]

    def names(self, path: str) -> bool:
        rows = self.db.execute(
            "SELECT id, payload FROM changes WHERE id > ? AND change = 'activity'", (self.last,)
        ).fetchall()
        for row_id, payload in rows:
            self.last = max(self.last, row_id)
            if any(f["path"] == path for f in json.loads(payload)["files"]):
                return True
        return False


def save_latency(root: Path, feed: Feed, name: str, timeout: float = 5.0) -> float:
    saved = time.perf_counter()
    (root / name).write_text(f"x = {saved}\n")
    deadline = saved + timeout
    while not feed.names(name):
        if time.perf_counter() > deadline:
            return timeout * 1000
        time.sleep(0.002)
    return (time.perf_counter() - saved) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roots", type=int, default=5)
    parser.add_argument("--saves", type=int, default=100)
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of quiet measured")
    parser.add_argument("--storm", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        (home / "run").mkdir(mode=0o700, parents=True)
        env = {
            **os.environ,
            "SCRIBE_LS_DAEMON": "1",
            "XDG_RUNTIME_DIR": str(home / "run"),
            "XDG_STATE_HOME": str(home / "state"),
        }
        cli = cli_command()

        def run(root: Path, *verb: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*cli, *verb], cwd=root, env=env, capture_output=True, text=True)

        roots = [
            make_repo(Path(tmp) / f"repo{n}", branch=f"feature/B-{100 + n}-bench") for n in range(args.roots)
        ]
        for root in roots:
            assert run(root, "start").returncode == 0
        status: dict = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            done = run(roots[0], "daemon", "status", "--json")
            status = json.loads(done.stdout) if done.returncode == 0 else {}
            watchers = [r["watcher"] for r in status.get("roots", [])]
            recorded = [w for w in watchers if w["recorder"] and w["running"]]
            if len(recorded) == len(roots):
                break
            time.sleep(0.2)
        else:
            raise SystemExit(f"the daemon did not record all roots: {status}")
        pid = status["pid"]
        feeds = [Feed(root) for root in roots]
        for n, root in enumerate(roots):  # warm each root's path once
            save_latency(root, feeds[n], "warm.py")

        # Idle means idle: the warm-up's activity entries written (one activity_window, 10 s,
        # after the saves) and the watches slowed down (HOT_SECONDS after the last change).
        time.sleep(ACTIVITY_WINDOW + HOT_SECONDS + 2.0)
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before) * 100
        idle_rss = proc_status(pid, "VmRSS")

        # The first save in each root after the quiet spell: its watch steps slowly until it
        # sees a change (recording/watch.py, HOT_SECONDS), so it takes up to two idle steps.
        first = [save_latency(root, feeds[n], "first.py") for n, root in enumerate(roots)]
        quiet = []
        for n in range(args.saves):  # round robin over the roots, each watch awake
            quiet.append(save_latency(roots[n % len(roots)], feeds[n % len(roots)], f"saved{n}.py"))

        def storm() -> None:
            for n in range(args.storm):
                folder = roots[0] / "storm" / f"d{n // 100:03d}"
                if n % 100 == 0:
                    folder.mkdir(parents=True, exist_ok=True)
                (folder / f"f{n:05d}.txt").write_text("x")

        writer = threading.Thread(target=storm)
        writer.start()
        during = []
        other = 1 % len(roots)
        while writer.is_alive():
            during.append(save_latency(roots[other], feeds[other], f"during{len(during)}.py"))
        writer.join()
        time.sleep(2.0)
        after_rss, peak_rss = proc_status(pid, "VmRSS"), proc_status(pid, "VmHWM")
        final = json.loads(run(roots[0], "daemon", "status", "--json").stdout)
        run(roots[0], "daemon", "stop")
        gone = time.monotonic() + 15
        while Path(f"/proc/{pid}").exists() and time.monotonic() < gone:
            time.sleep(0.05)  # its last writes land before the temp tree goes

    quiet_s, during_s, first_s = summary(quiet), summary(during), summary(first)
    rows = [
        ("roots recorded by one daemon", f"{len(roots)}", ""),
        ("RSS idle", f"{idle_rss:.1f} MB", "< 60 MB"),
        ("CPU idle", f"{idle_cpu:.2f} % of a core", "< 1 %"),
        (
            "save -> activity p50 / p99",
            f"{quiet_s['p50_ms']:.1f} / {quiet_s['p99_ms']:.1f} ms",
            "<= 50 / 150",
        ),
        ("the first save in a root after 10 s of quiet, max", f"{first_s['max_ms']:.1f} ms", "< 250 ms"),
        (
            f"the same during {args.storm:,} files in another root",
            f"{during_s['p50_ms']:.1f} / {during_s['p99_ms']:.1f} ms"
            f" (max {during_s['max_ms']:.1f}, n {len(during)})",
            "max < 200 ms",
        ),
        ("RSS after the storm / peak", f"{after_rss:.1f} / {peak_rss:.1f} MB", ""),
    ]
    for name, value, target in rows:
        print(f"{name:<46}{value:>36}   {target}")
    targets_met = (
        idle_rss < 60
        and idle_cpu < 1
        and quiet_s["p50_ms"] <= 50
        and quiet_s["p99_ms"] <= 150
        and during_s["max_ms"] < 200
        and first_s["max_ms"] < 250
    )
    print(
        json.dumps(
            {
                "bench": "daemon",
                "roots": len(roots),
                "idle_rss_mb": round(idle_rss, 1),
                "idle_cpu_percent": round(idle_cpu, 3),
                "save_to_activity": quiet_s,
                "save_to_activity_during_storm": during_s,
                "first_save_after_quiet": first_s,
                "rss_after_storm_mb": round(after_rss, 1),
                "peak_rss_mb": round(peak_rss, 1),
                "daemon_events_per_second": final.get("eventsPerSecond"),
                "targets_met": targets_met,
            }
        )
    )


if __name__ == "__main__":
    main()
