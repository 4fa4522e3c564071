"""How per-operation costs grow with the store: the same operations over stdio on a store
of 10k, 100k (and, with ``--sizes``, 1M) entries spread over ``--sessions`` sessions.

The store is grown in place between sizes (entries written straight through the store's
own insert, in big transactions, with realistic text: common words, rare words, files),
then a fresh ``scribe-ls serve`` is started on it and measured: appendEntry (which also
appends to the worklog), a getEntries page in the middle of the biggest session, search
for a common and a rare word, a cold context packet, listSessions, and the database's
bytes per entry. The headline is each figure's ratio at the largest size to the smallest
(target: <= 1.5x for per-operation costs from 10k to 1M entries).

Repository sizes (2k-100k files) are not measured here yet.

    python bench/scale.py [--sizes 10000,100000] [--sessions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from _common import make_repo, summary

from scribe_ls.config import load_config
from scribe_ls.ledger import Ledger
from scribe_ls.model import iso, utc_now
from scribe_ls.rpc.client import ScribeClient
from scribe_ls.store import Store

COMMON = ["cache", "context", "session", "packet", "review", "fix", "test", "store", "watch", "diff"]
RARE = "zanzibarite"  # one entry in ten thousand
WORDS = [f"w{n}" for n in range(2000)]


def seed_sessions(root: Path, sessions: int) -> list[str]:
    store = Store(root)
    store.open()
    ledger = Ledger(store, load_config(root))
    ids = []
    for n in range(sessions):
        started = ledger.start_session(f"B-{1000 + n}")
        assert started.session is not None
        ids.append(started.session.id)
        if n < sessions - 1:
            ledger.stop_session(started.session.id)
    store.close()
    return ids


def grow(root: Path, ids: list[str], count: int, rng: random.Random) -> float:
    """``count`` more entries, a tenth of them in the last (open) session; then the
    worklogs rendered (seconds it took)."""
    store = Store(root)
    store.open()
    now = iso(utc_now())
    done = 0
    while done < count:
        batch = min(10_000, count - done)
        with store._tx():
            for n in range(batch):
                session = ids[-1] if rng.random() < 0.1 else rng.choice(ids)
                words = [*rng.choices(WORDS, k=12), *rng.sample(COMMON, 2)]  # "cache review": 1 in 45
                if rng.random() < 0.0001:
                    words.append(RARE)
                kind = "activity" if n % 3 else rng.choice(("note", "decision", "todo"))
                files = [f"src/mod{rng.randrange(500)}.py" for _ in range(rng.randrange(1, 4))]
                store._insert_entry(session, kind, " ".join(words), files, now, pulse=False)
        done += batch
    store.conn.execute("DELETE FROM changes")  # the feed: what a relay prunes anyway
    # Bring the worklogs up to date, as the appends would have (a server start renders
    # the ones behind the store before it answers initialize).
    from scribe_ls.worklogs import Worklogs

    worklogs = Worklogs(store)
    started = time.perf_counter()
    for key in store.worklog_keys():
        worklogs.render(key)
    store.close()
    return time.perf_counter() - started


async def measure(root: Path, open_session: str, big_session: str) -> dict[str, object]:
    client = await ScribeClient.spawn(root)
    try:

        async def timed(method: str, params: dict[str, object], runs: int) -> dict[str, float]:
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                await client.request(method, params, timeout=60)
                samples.append((time.perf_counter() - started) * 1000)
            return summary(samples, 2)

        await client.request("scribe/status")
        appends = []
        for n in range(200):
            started = time.perf_counter()
            await client.request("scribe/appendEntry", {"text": f"scale note {n}", "sessionId": open_session})
            appends.append((time.perf_counter() - started) * 1000)
        first = await client.request("scribe/getEntries", {"sessionId": big_session, "limit": 1000})
        middle = first["entries"][len(first["entries"]) // 2]["id"] if first["entries"] else 0
        page = await timed(
            "scribe/getEntries", {"sessionId": big_session, "afterId": middle, "limit": 100}, 50
        )
        common = await timed("scribe/search", {"query": "cache review", "limit": 20}, 50)
        rare = await timed("scribe/search", {"query": RARE, "limit": 20}, 50)
        listing = await timed("scribe/listSessions", {"limit": 50}, 50)
        cold = []
        for n in range(5):  # a note between packets: each is built afresh
            await client.request(
                "scribe/appendEntry", {"text": f"between packets {n}", "sessionId": open_session}
            )
            started = time.perf_counter()
            await client.request("scribe/getContext", {"sessionId": open_session}, timeout=60)
            cold.append((time.perf_counter() - started) * 1000)
        return {
            "appendEntry": summary(appends, 2),
            "getEntries_page": page,
            "search_common": common,
            "search_rare": rare,
            "listSessions": listing,
            "context_cold": summary(cold, 2),
        }
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = random.Random(args.seed)
    results: dict[int, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="scribe-scale-") as tmp:
        root = make_repo(Path(tmp) / "repo", branch=f"feature/B-{1000 + args.sessions - 1}-scale")
        (root / ".scribe").mkdir()
        (root / ".scribe" / "config.toml").write_text("background_summaries = false\n")
        started = time.perf_counter()
        ids = seed_sessions(root, args.sessions)
        have = 0
        for size in sizes:
            render_s = grow(root, ids, size - have, rng)
            have = size
            figures = asyncio.run(measure(root, ids[-1], ids[-1]))
            figures["worklogs_render_s"] = round(render_s, 2)
            db = (root / ".scribe" / "scribe.db").stat().st_size
            figures["bytes_per_entry"] = round(db / size)
            results[size] = figures
        seconds = time.perf_counter() - started
    names = ["appendEntry", "getEntries_page", "search_common", "search_rare", "listSessions", "context_cold"]
    shown = ", ".join(f"{s:,}" for s in sizes)
    print(f"store scale: {args.sessions} sessions, sizes {shown} (ran {seconds:.0f} s)")
    print(f"{'p50 ms':<22}" + "".join(f"{s:>12,}" for s in sizes) + f"{'ratio':>9}{'target':>9}")
    ratios = {}
    for name in names:
        row = [results[s][name]["p50_ms"] for s in sizes]  # type: ignore[index]
        ratios[name] = round(row[-1] / row[0], 2) if row[0] else None
        print(f"{name:<22}" + "".join(f"{v:>12.2f}" for v in row) + f"{ratios[name]:>9}{'<= 1.5':>9}")
    per_entry = [results[s]["bytes_per_entry"] for s in sizes]
    print(f"{'bytes per entry':<22}" + "".join(f"{v:>12,}" for v in per_entry))
    renders = [results[s]["worklogs_render_s"] for s in sizes]
    print(
        f"{'worklogs brought up, s':<22}"
        + "".join(f"{v:>12}" for v in renders)
        + "   (the new entries' blocks)"
    )
    targets = {f"{name}<=1.5x": (ratios[name] or 0) <= 1.5 for name in names}
    print(
        json.dumps(
            {
                "bench": "scale",
                "sessions": args.sessions,
                "sizes": sizes,
                "results": {str(s): r for s, r in results.items()},
                "ratios": ratios,
                "targets": targets,
                "targets_met": all(targets.values()),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
