"""What an idle server costs: CPU time and wake-ups of ``scribe-ls serve`` with a session
open and nothing changing, read from ``/proc`` (Linux).

Starts the real server on stdio in a temp git repository, starts a session, saves one file
(so the watchers have been hot once), waits past their hot spell, then samples the
process's CPU time (``/proc/PID/stat`` utime + stime, all threads) and its threads' context
switches (``/proc/PID/task/*/status``: every wake-up of a thread is one) over ``--seconds``.

Targets: <= 0.1 % of a core; at most a few wake-ups a second. Prints a table, then one JSON
line.

    python bench/idle.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import make_repo

from scribe_ls.recording.watch import HOT_SECONDS
from scribe_ls.rpc.client import ScribeClient

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def wakeups(pid: int) -> dict[str, int]:
    """Context switches per thread name (voluntary + involuntary)."""
    counts: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # a thread that just ended
        switches = sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
        counts[name] = counts.get(name, 0) + switches
    return counts


async def measure(seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="scribe-idle-") as tmp:
        root = make_repo(Path(tmp) / "repo", files=50)
        client = await ScribeClient.spawn(root)
        try:
            await client.request("scribe/startSession", {})
            for attempt in range(50):  # until the watcher is armed and has seen a save
                (root / "touched.py").write_text(f"x = {attempt}\n")
                try:
                    await client.next_notification("scribe/activity", timeout=0.5)
                    break
                except TimeoutError:
                    continue
            await asyncio.sleep(HOT_SECONDS + 2)  # past the watchers' hot spell
            pid = client.process.pid
            cpu0, wake0, t0 = cpu_seconds(pid), wakeups(pid), time.monotonic()
            await asyncio.sleep(seconds)
            cpu1, wake1, t1 = cpu_seconds(pid), wakeups(pid), time.monotonic()
        finally:
            await client.close()
    elapsed = t1 - t0
    per_thread = {name: round((wake1.get(name, 0) - wake0.get(name, 0)) / elapsed, 2) for name in wake1}
    return {
        "seconds": round(elapsed, 1),
        "cpu_percent": round(100 * (cpu1 - cpu0) / elapsed, 3),
        "wakeups_per_s": round(sum(per_thread.values()), 2),
        "wakeups_by_thread": {k: v for k, v in sorted(per_thread.items(), key=lambda kv: -kv[1]) if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    if not Path("/proc/self/stat").exists():
        raise SystemExit("needs Linux's /proc")
    result = asyncio.run(measure(args.seconds))
    print(f"idle scribe-ls serve (session open, nothing changing) over {result['seconds']} s")
    print(f"  CPU                       {result['cpu_percent']:>8} % of a core   (target <= 0.1 %)")
    print(f"  wake-ups                  {result['wakeups_per_s']:>8} /s          (target: a few)")
    for name, rate in result["wakeups_by_thread"].items():  # type: ignore[union-attr]
        print(f"    {name:<22}  {rate:>8} /s")
    targets = {"cpu<=0.1%": result["cpu_percent"] <= 0.1, "wakeups<=5/s": result["wakeups_per_s"] <= 5}
    print(json.dumps({"bench": "idle", **result, "targets": targets, "targets_met": all(targets.values())}))


if __name__ == "__main__":
    sys.exit(main())
