"""How per-operation costs grow with the store: the same operations over stdio on a store
of 10k, 100k (and, with ``--sizes``, 1M) entries spread over ``--sessions`` sessions.

The store is grown in place between sizes (entries written straight through the store's
own insert, in big transactions, with realistic text: common words, rare words, files),
then a fresh ``scribe-ls serve`` is started on it and measured: appendEntry (which also
appends to the worklog), a getEntries page in the middle of the biggest session, search
for a common and a rare word, a cold context packet, listSessions, and the database's
bytes per entry. The headline is each figure's ratio at the largest size to the smallest
(target: <= 1.5x for per-operation costs from 10k to 1M entries).

The repository part grows one git repository to 2k, 20k and 100k tracked files (plus 10k
ignored build outputs, 20 modified files) and measures, on a fresh server each time: start
to the first ``scribe/status`` answer, the watch armed (session start to the first save
pushed) and the server's RSS, save -> push latency, the cold context packet (after a save,
so git's sections are fetched again) against a bare ``git status --porcelain=v2`` plus ``git
diff`` in the same run (target: <= 1.3x), and bench/storm.py's 10k-file storm.

    python bench/scale.py [--sizes 10000,100000] [--sessions 1000]
                          [--repo-sizes 2000,20000,100000] [--parts store,repo]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import GIT, make_repo, summary
from storm import peak_rss_mb
from storm import run as storm_run

from scribe_ls.config import load_config
from scribe_ls.core.operations import Ledger
from scribe_ls.model import iso, utc_now
from scribe_ls.rpc.client import ScribeClient
from scribe_ls.store.database import Store

COMMON = ["cache", "context", "session", "packet", "review", "fix", "test", "store", "watch", "diff"]
# In the first RARE_ENTRIES entries only: a rare word has as many matches at every size, so
# its search measures the cost of finding them, not of returning more of them (at one
# entry in ten thousand it had 1 match at 10k and 100 at 1M: 2.29x, most of it snippets).
RARE = "zanzibarite"
RARE_ENTRIES = 5
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
    seeded = store.conn.execute("SELECT COUNT(*) FROM entries_fts WHERE entries_fts MATCH ?", (RARE,))
    first = seeded.fetchone()[0] == 0
    while done < count:
        batch = min(10_000, count - done)
        with store._tx():
            for n in range(batch):
                session = ids[-1] if rng.random() < 0.1 else rng.choice(ids)
                words = [*rng.choices(WORDS, k=12), *rng.sample(COMMON, 2)]  # "cache review": 1 in 45
                if first and done + n < RARE_ENTRIES:
                    words.append(RARE)
                kind = "activity" if n % 3 else rng.choice(("note", "decision", "todo"))
                files = [f"src/mod{rng.randrange(500)}.py" for _ in range(rng.randrange(1, 4))]
                store._insert_entry(session, kind, " ".join(words), files, now, pulse=False)
        done += batch
    store.conn.execute("DELETE FROM changes")  # the feed: what a relay prunes anyway
    # Bring the worklogs up to date, as the appends would have (a server start renders
    # the ones behind the store before it answers initialize).
    from scribe_ls.worklog.files import Worklogs

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


# -- the repository --------------------------------------------------------------------------


def grow_tree(root: Path, have: int, files: int) -> None:
    """Tracked files ``have`` .. ``files`` - 1, a hundred per directory, committed."""
    for n in range(have, files):
        directory = root / "pkg" / f"p{n // 100:04d}"
        if n % 100 == 0 or n == have:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"m{n:06d}.py").write_text(f"value = {n}\n")
    subprocess.run([*GIT, "add", "-A", "pkg"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", f"{files} files"], cwd=root, check=True)


def ignored_outputs(root: Path, files: int = 10_000) -> None:
    (root / ".gitignore").write_text("build/\n")
    for n in range(files):
        directory = root / "build" / f"b{n // 100:03d}"
        if n % 100 == 0:
            directory.mkdir(parents=True, exist_ok=True)
        (directory / f"o{n:05d}.o").write_bytes(b"\0" * 64)
    subprocess.run([*GIT, "add", ".gitignore"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "ignore build outputs"], cwd=root, check=True)


def modify_some(root: Path, files: int, count: int = 20) -> list[Path]:
    changed = [root / "pkg" / f"p{n // 100:04d}" / f"m{n:06d}.py" for n in range(0, files, files // count)]
    for path in changed[:count]:
        path.write_text(path.read_text() + "changed = True\n")
    return changed[:count]


def bare_git(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*GIT, "status", "--porcelain=v2"], cwd=root, check=True, capture_output=True)
    subprocess.run([*GIT, "diff"], cwd=root, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


async def save_until_pushed(client: ScribeClient, path: Path, rel: str, every: float = 0.02) -> None:
    for attempt in range(500):
        await asyncio.to_thread(path.write_text, f"saved = {attempt}\n")
        try:
            while True:
                params = await client.next_notification("scribe/activity", timeout=every)
                if rel in [f["path"] for f in params["files"]]:
                    return
        except TimeoutError:
            continue
    raise RuntimeError(f"no push for {rel}")


async def measure_repo(root: Path) -> dict[str, object]:
    started = time.perf_counter()
    client = await ScribeClient.spawn(root)
    assert client.process is not None
    try:
        await client.request("scribe/status", timeout=60)
        start_ms = (time.perf_counter() - started) * 1000
        await client.request("scribe/startSession", {})
        armed = time.perf_counter()
        await save_until_pushed(client, root / "probe.py", "probe.py")
        armed_ms = (time.perf_counter() - armed) * 1000
        rss = peak_rss_mb(client.process.pid)
        saves = []
        target = root / "pkg" / "p0000" / "m000001.py"
        for n in range(30):
            await asyncio.sleep(0.15)  # past the push interval (ten a second): each save its own push
            client.drain_notifications()
            began = time.perf_counter()
            target.write_text(f"value = {n}\nchanged = True\n")
            while True:
                params = await client.next_notification("scribe/activity", timeout=10)
                if "pkg/p0000/m000001.py" in [f["path"] for f in params["files"]]:
                    break
            saves.append((time.perf_counter() - began) * 1000)
        cold, bare = [], []
        for _ in range(5):
            await save_until_pushed(client, root / "probe.py", "probe.py")  # git's sections: stale
            began = time.perf_counter()
            packet = await client.request("scribe/getContext", {}, timeout=60)
            cold.append((time.perf_counter() - began) * 1000)
            assert all(s["ok"] for s in packet["sections"].values()), packet["sections"]
            bare.append(await asyncio.to_thread(bare_git, root))
        return {
            "start_to_status_ms": round(start_ms, 1),
            "watch_armed_ms": round(armed_ms, 1),
            "rss_mb": round(rss, 1),
            "save_to_push": summary(saves, 2),
            "context_cold": summary(cold, 2),
            "bare_git_status_diff": summary(bare, 2),
        }
    finally:
        await client.close()


def run_repo_sizes(tmp: Path, sizes: list[int]) -> dict[int, dict[str, object]]:
    root = make_repo(tmp / "big", branch="feature/B-7777-monorepo")
    (root / ".scribe").mkdir()
    (root / ".scribe" / "config.toml").write_text("background_summaries = false\n")
    ignored_outputs(root)
    results: dict[int, dict[str, object]] = {}
    have = 0
    for size in sizes:
        # Undo the last size's edits (nothing to undo before the first).
        subprocess.run([*GIT, "checkout", "-q", "--", "."], cwd=root, check=False, capture_output=True)
        grow_tree(root, have, size)
        have = size
        modify_some(root, size)
        figures = asyncio.run(measure_repo(root))
        storm = asyncio.run(storm_run(root, 10_000))
        shutil.rmtree(root / "storm")
        figures["storm_status_p99_ms"] = storm["status_p99_ms"]
        figures["storm_rss_peak_mb"] = storm["rss_peak_mb"]
        results[size] = figures
    return results


def print_repo(results: dict[int, dict[str, object]]) -> dict[str, object]:
    sizes = sorted(results)
    print()
    print(f"repository scale: {', '.join(f'{s:,}' for s in sizes)} tracked files (+10k ignored)")
    print(f"{'':<30}" + "".join(f"{s:>12,}" for s in sizes) + f"{'ratio':>9}")
    rows = {
        "start -> status ms": lambda r: r["start_to_status_ms"],
        "watch armed ms": lambda r: r["watch_armed_ms"],
        "RSS MB": lambda r: r["rss_mb"],
        "save -> push p50 ms": lambda r: r["save_to_push"]["p50_ms"],
        "save -> push p99 ms": lambda r: r["save_to_push"]["p99_ms"],
        "context cold p50 ms": lambda r: r["context_cold"]["p50_ms"],
        "git status + diff p50 ms": lambda r: r["bare_git_status_diff"]["p50_ms"],
        "storm: status p99 ms": lambda r: r["storm_status_p99_ms"],
        "storm: peak RSS MB": lambda r: r["storm_rss_peak_mb"],
    }
    ratios = {}
    for name, pick in rows.items():
        values = [float(pick(results[s])) for s in sizes]  # type: ignore[arg-type]
        ratios[name] = round(values[-1] / values[0], 2) if values[0] else None
        print(f"{name:<30}" + "".join(f"{v:>12.1f}" for v in values) + f"{ratios[name]:>9}")
    big = results[sizes[-1]]
    packet_over_git = round(big["context_cold"]["p50_ms"] / big["bare_git_status_diff"]["p50_ms"], 2)  # type: ignore[index]
    print(f"cold packet / bare git status+diff at {sizes[-1]:,} files: {packet_over_git}x (target <= 1.3x)")
    return {"ratios": ratios, "packet_over_bare_git": packet_over_git}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repo-sizes", default="2000,20000,100000")
    parser.add_argument("--parts", default="store,repo", help="store, repo or both")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    out: dict[str, object] = {"bench": "scale"}
    targets: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="scribe-scale-") as tmp:
        if "store" in parts:
            out["store"] = store_part(Path(tmp), args, targets)
        if "repo" in parts:
            started = time.perf_counter()
            results = run_repo_sizes(Path(tmp), sorted(int(s) for s in args.repo_sizes.split(",")))
            headline = print_repo(results)
            print(f"(repository part ran {time.perf_counter() - started:.0f} s)")
            out["repo"] = {"results": {str(s): r for s, r in results.items()}, **headline}
            targets["packet<=1.3x_bare_git"] = headline["packet_over_bare_git"] <= 1.3  # type: ignore[operator]
    out["targets"] = targets
    out["targets_met"] = all(targets.values())
    print(json.dumps(out))


def store_part(tmp: Path, args: argparse.Namespace, targets: dict[str, bool]) -> dict[str, object]:
    sizes = sorted(int(s) for s in args.sizes.split(","))
    rng = random.Random(args.seed)
    results: dict[int, dict[str, object]] = {}
    root = make_repo(tmp / "repo", branch=f"feature/B-{1000 + args.sessions - 1}-scale")
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
    targets.update({f"{name}<=1.5x": (ratios[name] or 0) <= 1.5 for name in names})
    return {
        "sessions": args.sessions,
        "sizes": sizes,
        "results": {str(s): r for s, r in results.items()},
        "ratios": ratios,
    }


if __name__ == "__main__":
    sys.exit(main())
