"""Live metrics: bounded histograms, scribe/metrics over the wire, the daemon's and the
CLI's view."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe_ls.metrics import BOUNDS, MAX_SERIES, Histogram, Metrics
from scribe_ls.rpc.client import ScribeClient

from .helpers import run_cli
from .test_recording import armed

pytestmark = pytest.mark.timeout(60)


def test_histograms_are_bounded_and_their_percentiles_close() -> None:
    histogram = Histogram()
    for ms in range(1, 1001):
        histogram.observe(float(ms))
    assert len(histogram.buckets) == len(BOUNDS) + 1  # fixed, whatever was observed
    p50, p99 = histogram.percentile(50), histogram.percentile(99)
    assert 500 <= p50 <= 500 * 1.34 and 990 <= p99 <= 1000  # within a bucket; never above the max
    assert histogram.summary()["count"] == 1000 and histogram.summary()["maxMs"] == 1000
    assert Histogram().summary()["p50Ms"] is None
    metrics = Metrics()
    for n in range(200):  # a client naming endless methods cannot grow the registry
        metrics.observe(f"request:m{n}", 1.0)
    assert len(metrics.histograms) <= MAX_SERIES + 1 and metrics.summary("other")["count"] > 0


async def test_scribe_metrics_over_the_wire(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        await client.request("scribe/appendEntry", {"text": "measured"})
        await armed(client, repo)  # a save, pushed
        await client.request("scribe/getContext", {"sections": ["git"]})
        metrics = await client.request("scribe/metrics", {})
    finally:
        await client.close()
    append = metrics["requests"]["scribe/appendEntry"]
    assert append["count"] == 1 and append["p50Ms"] > 0 and append["p99Ms"] >= append["p50Ms"]
    for name in ("saveToPush", "git", "storeCommit"):
        assert metrics[name]["count"] >= 1 and metrics[name]["p50Ms"] is not None, name
    assert metrics["pushes"]["sent"] >= 1 and metrics["pushes"]["dropped"] == 0
    assert set(metrics["queues"]) == {"store", "summaries"} and metrics["watcherRestarts"] == 0


def test_status_metrics_without_a_background_recorder_says_where_they_are(repo: Path) -> None:
    run_cli(repo, "start")
    done = run_cli(repo, "status", "--metrics")
    assert done.returncode == 0 and "no background recorder runs" in done.stdout
