"""Live metrics, cheap enough to stay on: bounded histograms and counters for one process.

A :class:`Histogram` keeps counts in fixed, log-spaced buckets (0.01 ms to ~10 min, 8 per
factor of ten): constant memory whatever the traffic, and p50/p99 within a bucket's width
(~33 %). Observations come from the loop and from the store's and git's threads, so each
update takes a lock (a few hundred nanoseconds).
"""

from __future__ import annotations

import _thread  # a lock without the threading module: the CLI's start-up imports this
import bisect
import math
from typing import Any

# Upper bounds of the buckets, in milliseconds: 10 ** (k / 8) for k = -16 .. 46.
BOUNDS = tuple(10 ** (k / 8) for k in range(-16, 47))
MAX_SERIES = 64  # request methods and the like: a client cannot grow this without end


class Histogram:
    __slots__ = ("buckets", "count", "max", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BOUNDS) + 1)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def observe(self, ms: float) -> None:
        self.buckets[bisect.bisect_left(BOUNDS, ms)] += 1
        self.count += 1
        self.total += ms
        self.max = max(self.max, ms)

    def percentile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = max(1, math.ceil(q / 100 * self.count))
        seen = 0
        for index, count in enumerate(self.buckets):
            seen += count
            if seen >= rank:
                return round(min(BOUNDS[index] if index < len(BOUNDS) else self.max, self.max), 3)
        return round(self.max, 3)

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "p50Ms": self.percentile(50),
            "p99Ms": self.percentile(99),
            "maxMs": round(self.max, 3) if self.count else None,
            "meanMs": round(self.total / self.count, 3) if self.count else None,
        }


class Metrics:
    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self.histograms: dict[str, Histogram] = {}
        self.counters: dict[str, int] = {}

    def observe(self, name: str, ms: float) -> None:
        with self._lock:
            histogram = self.histograms.get(name)
            if histogram is None:
                if len(self.histograms) >= MAX_SERIES:
                    name, histogram = "other", self.histograms.setdefault("other", Histogram())
                else:
                    histogram = self.histograms[name] = Histogram()
            histogram.observe(ms)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + amount

    def summary(self, name: str) -> dict[str, Any]:
        with self._lock:
            return (self.histograms.get(name) or Histogram()).summary()

    def by_prefix(self, prefix: str) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                name.removeprefix(prefix): histogram.summary()
                for name, histogram in sorted(self.histograms.items())
                if name.startswith(prefix)
            }


# One per process: the daemon records several roots, and git and the store are shared.
METRICS = Metrics()


def snapshot() -> dict[str, Any]:
    """The process-wide part of ``scribe/metrics`` (see docs/protocol.md, Metrics)."""
    counters = METRICS.counters
    return {
        "requests": METRICS.by_prefix("request:"),
        "saveToPush": METRICS.summary("save_to_push"),
        "git": METRICS.summary("git"),
        "storeCommit": METRICS.summary("store_commit"),
        "groupCommit": {
            "commits": counters.get("group_commits", 0),
            "writes": counters.get("group_commit_writes", 0),
        },
        "pushes": {
            "sent": counters.get("pushes_sent", 0),
            "merged": counters.get("pushes_merged", 0),
            "dropped": counters.get("pushes_dropped", 0),
        },
    }
