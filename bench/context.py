"""Context packet: parallel vs sequential, cold vs warm, against the legacy fetch pattern.

Builds a git repository of realistic size (2,000 files, 300 commits, 60 changed files with
several hunks each, a few untracked), a session with 50 entries, then in one run:

- cold packets from the same provider with concurrency 1 (sections and git calls one after
  another) and with the default concurrency, alternating, several times each;
- the critical path: the slowest single section of each parallel packet;
- warm (cached) ``scribe/getContext`` round trips over stdio against the real server;
- the legacy pattern on the same repository: a Python subprocess for a status listing, then
  ``git branch --show-current``, then ``git diff --name-only HEAD~1``, one after another.

Also: the tokens of a full packet against the delta after one note (``since``), and the
warm ``scribe_context`` round trip over MCP (``scribe-ls mcp``, the SDK's own client).

The git hardening (``scribe_ls/git/safety.py``) is measured in the same run: cold parallel
packets with git run as before it (the user's environment as it was, no overrides, no
``git config --list``), alternating with hardened ones whose configuration cache is
emptied first (what a CLI ``context`` pays: one more git process), and the hardened ones
as a server runs them (configuration cached: the first three rows).

Targets: cold parallel >= 1.8x faster than sequential and within 1.2x of its
slowest section; warm round trip <= 5 ms; every cold packet < 2 s; our full cold packet
<= 1.0x the legacy time; a delta after one note <= 5 % of the full packet's tokens; MCP
scribe_context warm p50 <= 10 ms; the hardened cold packet (configuration read) at most
1.10x the one before the hardening. Prints a table, then one JSON line.

    python bench/context.py [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import GIT

from scribe_ls import Scribe
from scribe_ls.context import ContextProvider, ContextRequest
from scribe_ls.git import commands as scribe_git
from scribe_ls.git import safety as gitsafe
from scribe_ls.model import CONTEXT_SECTIONS
from scribe_ls.rpc.client import ScribeClient


def build_repo(root: Path, files: int, commits: int, changed: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "feature/B-4242-context", str(root)], check=True)
    for n in range(files):
        directory = root / f"pkg{n // 100:02d}"
        directory.mkdir(exist_ok=True)
        (directory / f"mod{n:04d}.py").write_text("".join(f"value_{n}_{k} = {k}\n" for k in range(60)))
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "initial import"], cwd=root, check=True)
    for n in range(commits):
        index = (n * 7) % files
        target = root / f"pkg{index // 100:02d}" / f"mod{index:04d}.py"
        target.write_text(target.read_text() + f"commit_{n} = True\n")
        subprocess.run(
            [*GIT, "commit", "-q", "-am", f"Change {n}: tune module {index}"], cwd=root, check=True
        )
    for n in range(changed):
        index = (n % 20) * 100 + n // 20 + 50  # spread over packages, away from the commits' files
        target = root / f"pkg{index // 100:02d}" / f"mod{index:04d}.py"
        lines = target.read_text().splitlines(keepends=True)
        for k in (3, 25, 50):  # three separate hunks per file
            lines[k] = f"value_changed_{n}_{k} = 'edited'\n"
        target.write_text("".join(lines))
    for n in range(5):
        (root / f"scratch{n}.txt").write_text("untracked\n")
    # A repository with history is packed (a clone is; gc packs the rest): measure that.
    subprocess.run(["git", "gc", "-q"], cwd=root, check=True)


async def seed_session(root: Path) -> None:
    async with Scribe(root) as scribe:
        await scribe.start_session(title="context bench")
        for n in range(50):
            await scribe.append_entry(
                f"note {n}: thinking about the context packet", kind="note" if n % 5 else "decision"
            )


async def cold_packet(root: Path, concurrency: int) -> tuple[float, dict]:
    async with Scribe(root) as scribe:  # a fresh service: no cache
        provider = ContextProvider(scribe, concurrency=concurrency)
        started = time.perf_counter()
        packet = await provider.get(ContextRequest(None, CONTEXT_SECTIONS, 12000, "json"))
        return (time.perf_counter() - started) * 1000, packet


async def _unhardened_environment(root: Path, timeout: float) -> dict[str, str]:
    """git's environment as scribe-ls set it before the hardening (for comparison only)."""
    return {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}


def run_cold(root: Path, concurrency: int, git_slots: int, git_as: str = "hardened") -> tuple[float, dict]:
    """``git_as``: "hardened" (configuration cached, as a server runs), "hardened-first"
    (the configuration looked at again first, as a CLI call does: a config that names no
    filter and includes nothing needs no git process), "hardened-listed" (the same with an
    include in .git/config: ``git config --list`` runs first), "before" (no hardening)."""
    # A fresh event loop: the git semaphore is per loop and takes the bound at creation.
    scribe_git.MAX_CONCURRENT_GIT = git_slots
    hardened_environment, diff_options = scribe_git._environment, gitsafe.DIFF_OPTIONS
    if git_as == "before":
        scribe_git._environment = _unhardened_environment  # type: ignore[assignment]
        gitsafe.DIFF_OPTIONS = ("--no-ext-diff",)  # what the diff was given before
    elif git_as.startswith("hardened-"):
        gitsafe._known.clear()
    if git_as == "hardened-listed":
        subprocess.run(["git", "config", "include.path", "../no-such-file.cfg"], cwd=root, check=True)
    try:
        return asyncio.run(cold_packet(root, concurrency))
    finally:
        if git_as == "hardened-listed":
            subprocess.run(["git", "config", "--unset", "include.path"], cwd=root, check=True)
        scribe_git.MAX_CONCURRENT_GIT = 4
        scribe_git._environment, gitsafe.DIFF_OPTIONS = hardened_environment, diff_options


async def warm_round_trips(root: Path, count: int) -> list[float]:
    client = await ScribeClient.spawn(root, initialization_options={"notifications": False})
    try:
        first = await client.request("scribe/getContext", {})
        assert first["cached"] is False
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            packet = await client.request("scribe/getContext", {})
            samples.append((time.perf_counter() - started) * 1000)
            assert packet["cached"] is True
        return samples
    finally:
        await client.close()


async def delta_tokens(root: Path) -> tuple[int, int]:
    """Tokens of a full packet, then of the delta after one note (what an agent polling
    every turn pays)."""
    client = await ScribeClient.spawn(root, initialization_options={"notifications": False})
    try:
        full = await client.request("scribe/getContext", {})
        await client.request("scribe/appendEntry", {"text": "one more finding", "author": "bench"})
        delta = await client.request("scribe/getContext", {"since": full["etag"]})
        assert delta["full"] is False and list(delta["sections"]) == ["worklog"], delta
        return full["tokens"], delta["tokens"]
    finally:
        await client.close()


async def mcp_round_trips(root: Path, count: int) -> list[float]:
    """``scribe_context`` over MCP (the SDK's own client, stdio), warm."""
    from mcp import Client, StdioServerParameters

    server = StdioServerParameters(command=sys.executable, args=["-m", "scribe_ls", "mcp"], cwd=str(root))
    async with Client(server, mode="legacy") as client:
        await client.call_tool("scribe_context", {"format": "json"})
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            result = await client.call_tool("scribe_context", {"format": "json"})
            samples.append((time.perf_counter() - started) * 1000)
            assert not result.is_error and result.structured_content["cached"] is True
        return samples


LEGACY_STATUS = (
    "import subprocess; "
    "print(subprocess.run(['git', 'status', '--porcelain'], capture_output=True, text=True).stdout)"
)


def legacy_fetch(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", LEGACY_STATUS], cwd=root, check=True, capture_output=True)
    subprocess.run(["git", "branch", "--show-current"], cwd=root, check=True, capture_output=True)
    subprocess.run(["git", "diff", "--name-only", "HEAD~1"], cwd=root, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--changed", type=int, default=60)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scribe-context-") as tmp:
        root = Path(tmp) / "repo"
        started = time.perf_counter()
        build_repo(root, args.files, args.commits, args.changed)
        asyncio.run(seed_session(root))
        build_s = time.perf_counter() - started
        run_cold(root, 7, 4)  # warm the page cache and git's index stat cache for both
        sequential, parallel, critical, sections_ms = [], [], [], {}
        before, first, listed = [], [], []
        # The hardening's three ways and the unhardened one in a new order each round: a
        # fixed order would hand one of them the warmest caches every time.
        shuffle = random.Random(4242).shuffle
        for _ in range(args.runs):
            ms, _ = run_cold(root, 1, 1)
            sequential.append(ms)
            ways = [("before", before), ("hardened-first", first), ("hardened-listed", listed)]
            ways.append(("hardened", parallel))
            shuffle(ways)
            for git_as, samples in ways:
                ms, got = run_cold(root, len(CONTEXT_SECTIONS), 4, git_as)
                samples.append(ms)
                if git_as == "hardened":
                    packet = got
            parallel_ms = parallel[-1]
            slowest = max(s["elapsedMs"] for s in packet["sections"].values())
            critical.append(slowest)
            assert parallel_ms >= slowest
            for name, section in packet["sections"].items():
                sections_ms.setdefault(name, []).append(section["elapsedMs"])
        assert all(s["ok"] for s in packet["sections"].values()), packet["sections"]
        warm = asyncio.run(warm_round_trips(root, 50))
        full_tokens, delta_tok = asyncio.run(delta_tokens(root))
        mcp_ms = asyncio.run(mcp_round_trips(root, 50))
        legacy = [legacy_fetch(root) for _ in range(args.runs)]

    med = statistics.median
    seq_ms, par_ms, crit_ms, legacy_ms = med(sequential), med(parallel), med(critical), med(legacy)
    warm_p50 = med(warm)
    speedup = seq_ms / par_ms
    critical_ratio = par_ms / crit_ms
    legacy_ratio = par_ms / legacy_ms
    worst_cold = max(sequential + parallel)
    delta_share = delta_tok / full_tokens
    mcp_p50 = med(mcp_ms)
    mcp_p99 = sorted(mcp_ms)[min(len(mcp_ms) - 1, round(0.99 * (len(mcp_ms) - 1)))]
    before_ms, first_ms, listed_ms = med(before), med(first), med(listed)
    hardening_ratio = first_ms / before_ms
    listed_ratio = listed_ms / before_ms
    print(
        f"context packet on {args.files} files, {args.commits + 1} commits, {args.changed} changed"
        f" + 5 untracked (built in {build_s:.1f} s); medians of {args.runs} runs"
    )
    print(f"{'':<44}{'ms':>10}")
    rows = [
        ("cold, sequential (concurrency 1)", seq_ms),
        ("cold, parallel", par_ms),
        ("cold, parallel, git as before the hardening", before_ms),
        ("cold, parallel, hardened, config checked", first_ms),
        ("  same, config with an include: listed", listed_ms),
        ("  slowest section of the parallel packet", crit_ms),
        ("warm (cached) getContext over stdio, p50", warm_p50),
        ("legacy: python status + branch + diff HEAD~1", legacy_ms),
        ("scribe_context over MCP (stdio), warm, p50", mcp_p50),
        ("scribe_context over MCP (stdio), warm, p99", mcp_p99),
    ]
    for name, value in rows:
        print(f"{name:<44}{value:>10.1f}")
    print("sections (parallel, median ms): " + ", ".join(f"{k} {med(v):.1f}" for k, v in sections_ms.items()))
    print(
        f"parallel speed-up {speedup:.2f}x (target >= 1.8); parallel/critical path {critical_ratio:.2f}x"
        f" (target <= 1.2); ours/legacy {legacy_ratio:.2f}x (goal <= 1.0); worst cold {worst_cold:.0f} ms"
        f" (target < 2000); warm p50 {warm_p50:.2f} ms (target <= 5)"
    )
    print(
        f"git hardening: cold packet {first_ms:.1f} ms with the configuration looked at, {par_ms:.1f} ms"
        f" cached, {before_ms:.1f} ms before: {hardening_ratio:.2f}x (target <= 1.10); with git config"
        f" --list first (a config with an include or a filter) {listed_ms:.1f} ms, {listed_ratio:.2f}x"
    )
    print(
        f"tokens: full packet {full_tokens}, delta after one note {delta_tok}"
        f" ({delta_share:.1%}, target <= 5%); MCP scribe_context warm p50 {mcp_p50:.2f} ms (target <= 10)"
    )
    targets = {
        "speedup>=1.8": speedup >= 1.8,
        "critical<=1.2": critical_ratio <= 1.2,
        "warm<=5ms": warm_p50 <= 5,
        "cold<2s": worst_cold < 2000,
        "legacy<=1.0": legacy_ratio <= 1.0,
        "delta<=5%": delta_share <= 0.05,
        "mcp_warm<=10ms": mcp_p50 <= 10,
        "hardening<=1.10": hardening_ratio <= 1.10,
    }
    print(
        json.dumps(
            {
                "bench": "context",
                "files": args.files,
                "commits": args.commits + 1,
                "changed": args.changed,
                "cold_sequential_ms": round(seq_ms, 1),
                "cold_parallel_ms": round(par_ms, 1),
                "cold_before_hardening_ms": round(before_ms, 1),
                "cold_hardened_config_looked_at_ms": round(first_ms, 1),
                "hardened_over_before": round(hardening_ratio, 2),
                "cold_hardened_config_listed_ms": round(listed_ms, 1),
                "listed_over_before": round(listed_ratio, 2),
                "critical_path_ms": round(crit_ms, 1),
                "warm_p50_ms": round(warm_p50, 2),
                "legacy_ms": round(legacy_ms, 1),
                "sections_ms": {k: round(med(v), 1) for k, v in sections_ms.items()},
                "speedup": round(speedup, 2),
                "parallel_over_critical": round(critical_ratio, 2),
                "ours_over_legacy": round(legacy_ratio, 2),
                "worst_cold_ms": round(worst_cold, 1),
                "full_packet_tokens": full_tokens,
                "delta_after_one_note_tokens": delta_tok,
                "delta_share": round(delta_share, 4),
                "mcp_context_p50_ms": round(mcp_p50, 2),
                "mcp_context_p99_ms": round(mcp_p99, 2),
                "targets": targets,
                "targets_met": all(targets.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
