"""The fault suite, longer than CI's: what breaks scribe-ls from outside, counted.

- fuzz: random requests to every method (fixed seed; values include lone surrogates, NULs,
  huge numbers, nested "jsonrpc" objects, wrong types) plus raw frame damage (bad lengths,
  junk, lowercase headers); counts server deaths, hangs (no answer in 10 s) and answers
  outside the protocol's codes;
- concurrency: 8 servers x 100 appends over stdio plus 4 CLI writers on one store; every
  acknowledged entry must be in the store;
- kill -9: a server killed at a random moment while appends are in flight, again and
  again; what it acknowledged must survive, and the next start renders the worklog;
- full and read-only disk (a small tmpfs, where root can mount one): writes answer -32013,
  nothing acknowledged is lost, reads go on;
- hostile repository: a clone with tracked .scribe/ links; files changed outside it;
- soak: rounds of pre-login floods, 16 MiB frames announced before login, malformed frames
  and a client that never reads, against a TCP server: its memory and descriptors per
  round (flat), and requests left unanswered (0).

Targets: crashes 0, hangs 0, acknowledged entries lost 0, files changed outside 0.

    python bench/faults.py [--fuzz 5000] [--kills 10] [--seed 7] [--soak-rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as common
from _wire import damaged_frame, frame, random_params

from scribe_ls.errors import ScribeError
from scribe_ls.rpc.client import ScribeClient, read_frame
from scribe_ls.rpc.methods import REQUEST_FIELDS, REQUESTS

SERVER = [sys.executable, "-m", "scribe_ls", "serve"]
ALLOWED = {-32600, -32601, -32602, -32700, -32010, -32011, -32012, -32013}


async def run(
    *command: str, cwd: Path | None = None, check: bool = False
) -> subprocess.CompletedProcess[bytes]:
    """A blocking process run, off the event loop."""
    return await asyncio.to_thread(subprocess.run, list(command), cwd=cwd, capture_output=True, check=check)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    """A repository (one commit) whose later commits need no -c options."""
    common.make_repo(root, "feature/B-4242-faults")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "Bench")
    return root


async def fuzz(root: Path, count: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    result = {"requests": 0, "crashes": 0, "hangs": 0, "bad_codes": 0, "damaged_frames": 0}
    client = await ScribeClient.spawn(root)
    methods = sorted(REQUEST_FIELDS)
    for index in range(count):
        method = rng.choice(methods)
        params = random_params(rng, method)
        result["requests"] += 1
        if rng.random() < 0.05:
            # A damaged frame, then a request that must still be answered.
            body = json.dumps(
                {"jsonrpc": "2.0", "id": f"junk-{index}", "method": method, "params": params}
            ).encode()
            client._writer.write(damaged_frame(rng, body))
            result["damaged_frames"] += 1
            method, params = "scribe/status", {}
        try:
            await client.request(method, params, timeout=10)
        except ScribeError as exc:
            if exc.code not in ALLOWED:
                result["bad_codes"] += 1
        except TimeoutError:
            result["hangs"] += 1
        except (ConnectionResetError, BrokenPipeError):
            result["crashes"] += 1
            client = await ScribeClient.spawn(root)
    await client.close()
    return result


# -- concurrency ------------------------------------------------------------------------------


def stored_ids(root: Path) -> set[int]:
    db = sqlite3.connect(root / ".scribe" / "scribe.db")
    try:
        return {row[0] for row in db.execute("SELECT id FROM entries")}
    finally:
        db.close()


async def concurrency(
    root: Path, servers: int = 8, appends: int = 100, cli_writers: int = 4
) -> dict[str, int]:
    acked: list[int] = []
    seed_client = await ScribeClient.spawn(root)
    await seed_client.request("scribe/startSession", {})
    await seed_client.close()

    async def server_writer(n: int) -> None:
        client = await ScribeClient.spawn(root)
        for i in range(appends):
            entry = await client.request(
                "scribe/appendEntry", {"text": f"server {n} note {i}", "requestId": f"s{n}-{i}"}
            )
            acked.append(entry["id"])
        await client.close()

    async def cli_writer(n: int) -> None:
        for i in range(appends // 4):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "scribe_ls", "append", f"cli {n} note {i}", "--json",
                cwd=root, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            out, _ = await proc.communicate()
            if proc.returncode == 0:
                acked.append(json.loads(out)["id"])

    await asyncio.gather(
        *(server_writer(n) for n in range(servers)), *(cli_writer(n) for n in range(cli_writers))
    )
    lost = set(acked) - stored_ids(root)
    return {"acknowledged": len(acked), "lost": len(lost)}


# -- kill -9 ----------------------------------------------------------------------------------


async def kill_loops(root: Path, loops: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    acked: list[int] = []
    for loop in range(loops):
        client = await ScribeClient.spawn(root)
        await client.request("scribe/startSession", {})

        async def writer(client: ScribeClient = client, loop: int = loop) -> None:
            for i in range(10_000):
                entry = await client.request(
                    "scribe/appendEntry", {"text": f"loop {loop} note {i}"}, timeout=10
                )
                acked.append(entry["id"])

        task = asyncio.ensure_future(writer())
        await asyncio.sleep(rng.uniform(0.05, 0.4))
        assert client.process is not None
        client.process.kill()
        await client.process.wait()
        await asyncio.gather(task, return_exceptions=True)
    lost = set(acked) - stored_ids(root)
    # The next start renders what the crashes left behind.
    client = await ScribeClient.spawn(root)
    await client.close()
    validate = await run(sys.executable, "-m", "scribe_ls", "validate", cwd=root)
    return {
        "kills": loops,
        "acknowledged": len(acked),
        "lost": len(lost),
        "worklog_consistent": int(validate.returncode == 0),
    }


# -- disks ------------------------------------------------------------------------------------


async def disks(base: Path) -> dict[str, Any]:
    mount = base / "disk"
    mount.mkdir()
    if (await run("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount))).returncode:
        return {"skipped": "cannot mount a tmpfs here (needs root)"}
    try:
        root = make_repo(mount / "repo")
        client = await ScribeClient.spawn(root)
        await client.request("scribe/startSession", {})
        acked, refused, other = [], 0, 0
        for i in range(400):
            try:
                entry = await client.request("scribe/appendEntry", {"text": f"{i} " + "fill " * 2000})
                acked.append(entry["id"])
            except ScribeError as exc:
                if exc.code == -32013:
                    refused += 1
                else:
                    other += 1
        reads_ok = "sessions" in await client.request("scribe/listSessions", {})
        await client.close()
        full_lost = len(set(acked) - stored_ids(root))
        await run("mount", "-o", "remount,ro", str(mount), check=True)
        client = await ScribeClient.spawn(root)
        ro_reads = "sessions" in await client.request("scribe/listSessions", {})
        try:
            await client.request("scribe/appendEntry", {"text": "x"})
            ro_refused = False
        except ScribeError as exc:
            ro_refused = exc.code == -32013
        await client.close()
        return {
            "full_acknowledged": len(acked),
            "full_refused": refused,
            "full_other_errors": other,
            "full_lost": full_lost,
            "full_reads_ok": reads_ok,
            "read_only_reads_ok": ro_reads,
            "read_only_writes_refused": ro_refused,
        }
    finally:
        await run("umount", "-l", str(mount))


# -- hostile repository -----------------------------------------------------------------------


def digest(top: Path, skip: Path) -> dict[str, str]:
    found = {}
    for dirpath, dirnames, filenames in os.walk(top):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in filenames:
            path = here / name
            found[str(path)] = (
                os.readlink(path) if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
            )
    return found


async def hostile(base: Path) -> dict[str, int]:
    victim = base / "victim"
    (victim / "dir").mkdir(parents=True)
    (victim / "rc").write_text("# rc\n")
    origin = make_repo(base / "origin")
    (origin / ".scribe").mkdir()
    for name, target in (
        ("recorder.lock", "rc"),
        ("scribe.log", "rc"),
        ("summaries", "dir"),
        ("worklogs", "dir"),
    ):
        (origin / ".scribe" / name).symlink_to(victim / target)
    git(origin, "add", "-f", ".scribe")
    git(origin, "commit", "-q", "-m", "ship .scribe")
    clone = base / "clone"
    git(base, "clone", "-q", str(origin), str(clone))
    before = digest(base, clone)
    client = await ScribeClient.spawn(clone)
    for method in REQUESTS:
        try:
            await client.request(method, {"text": "x"} if method == "scribe/appendEntry" else {})
        except ScribeError:
            pass
    await client.close()
    for verb in (["start"], ["append", "x"], ["summarize"], ["stop"]):
        await run(sys.executable, "-m", "scribe_ls", *verb, cwd=clone)
    after = digest(base, clone)
    return {"changed_outside": sum(1 for k in set(before) | set(after) if before.get(k) != after.get(k))}


SOAK_TOKEN = "soak-token-0123456789abcdef"


def process_figures(pid: int) -> tuple[float, int]:
    """(resident MB, open descriptors) of a process, from /proc."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


async def soak(root: Path, rounds: int) -> dict[str, Any]:
    """A TCP server under rounds of abuse: 300 connections that never log in, 20 that
    announce a 16 MiB frame before logging in, a logged-in client sending malformed frames
    (deep nesting, invalid JSON, notifications with an id) and one that never reads its
    answers. After each round, with its connections closed: the server's memory and
    descriptors (flat: the last round within 25 % + 10 MB and 5 descriptors of the first),
    and whether a real client is answered during the flood."""
    port = common.free_port()
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--tcp", f"127.0.0.1:{port}", cwd=root, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "SCRIBE_LS_TOKEN": SOAK_TOKEN},
    )  # fmt: skip
    for _ in range(200):
        try:
            _, probe = await asyncio.open_connection("127.0.0.1", port)
            probe.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    real = await ScribeClient.connect("127.0.0.1", port, root, token=SOAK_TOKEN)
    await real.request("scribe/startSession", {})
    figures: list[dict[str, Any]] = []
    unanswered = 0
    malformed = [
        b'{"jsonrpc":"2.0","id":1,"method":"scribe/status","params":{"x":'
        + b"[" * 5000
        + b"]" * 5000
        + b"}}",
        b'{"jsonrpc":"2.0","id":2,"method":',
        b'{"jsonrpc":"2.0","id":3,"method":"initialized","params":{}}',
        b'{"jsonrpc":"2.0","id":4,"method":"scribe/status","params":{"x":' + b"[" * 100 + b"]" * 100 + b"}}",
    ]
    try:
        for _ in range(rounds):
            idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(300)]
            partial = []
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"Content-Length: 16777216\r\n\r\n" + b"a" * 100_000)
                partial.append((reader, writer))
            await asyncio.sleep(2.0)  # the server has taken every connection by now
            _, fds_during = process_figures(proc.pid)  # at most MAX_PENDING_LOGINS of them held
            # During the flood, a real client is answered.
            try:
                await asyncio.wait_for(real.request("scribe/status", {}), 10)
            except TimeoutError:
                unanswered += 1
            bad_reader, bad_writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
            init = {
                "capabilities": {},
                "rootUri": root.as_uri(),
                "initializationOptions": {"token": SOAK_TOKEN},
            }
            login = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}
            bad_writer.write(frame(json.dumps(login).encode()))
            for body in malformed * 10:
                bad_writer.write(frame(body))
            await bad_writer.drain()
            answered = -1  # the initialize's own answer comes first
            for _ in range(len(malformed) * 10 + 1):
                try:
                    if await asyncio.wait_for(read_frame(bad_reader), 10) is not None:
                        answered += 1
                except TimeoutError:
                    break
            unanswered += len(malformed) * 10 - answered
            slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port, limit=2**16)
            slow_writer.write(frame(json.dumps(login).encode()))
            for n in range(200):  # answers it never reads
                request = {"jsonrpc": "2.0", "id": n + 1, "method": "scribe/getContext", "params": {}}
                slow_writer.write(frame(json.dumps(request).encode()))
            await slow_writer.drain()
            await asyncio.sleep(1.0)
            for _, writer in [*idle, *partial, (slow_reader, slow_writer), (bad_reader, bad_writer)]:
                writer.close()
            await asyncio.sleep(1.0)  # the server notices the closes
            rss, fds = process_figures(proc.pid)
            figures.append({"rss_mb": round(rss, 1), "fds": fds, "fds_during_flood": fds_during})
    finally:
        await real.close()
        proc.terminate()
        await proc.wait()
    first, last = figures[0], figures[-1]
    flat = last["rss_mb"] <= first["rss_mb"] * 1.25 + 10 and last["fds"] <= first["fds"] + 5
    return {"rounds": figures, "flat": flat, "unanswered": unanswered}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--soak-rounds", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="scribe-faults-"))
    try:
        results = {
            "fuzz": await fuzz(make_repo(base / "fuzz"), args.fuzz, args.seed),
            "concurrency": await concurrency(make_repo(base / "concurrency")),
            "kill9": await kill_loops(make_repo(base / "kill"), args.kills, args.seed),
            "disks": await disks(base),
            "hostile": await hostile(base / "hostile"),
            "soak": await soak(make_repo(base / "soak"), args.soak_rounds),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    fuzzed = results["fuzz"]
    lost = results["concurrency"]["lost"] + results["kill9"]["lost"] + results["disks"].get("full_lost", 0)
    rows = [
        ("requests fuzzed", fuzzed["requests"], "-"),
        ("  of them after a damaged frame", fuzzed["damaged_frames"], "-"),
        ("server crashes", fuzzed["crashes"], "0"),
        ("hangs (no answer in 10 s)", fuzzed["hangs"], "0"),
        ("answers outside the protocol's codes", fuzzed["bad_codes"], "0"),
        ("concurrent appends acknowledged (8 servers + 4 CLIs)", results["concurrency"]["acknowledged"], "-"),
        ("kill -9 loops / appends acknowledged", f"{args.kills} / {results['kill9']['acknowledged']}", "-"),
        ("worklog consistent after the kills", bool(results["kill9"]["worklog_consistent"]), "True"),
        ("disk full / read-only", json.dumps(results["disks"]), "-"),
        ("acknowledged entries lost", lost, "0"),
        ("files changed outside the repository", results["hostile"]["changed_outside"], "0"),
        ("soak: server MB per round", " ".join(str(r["rss_mb"]) for r in results["soak"]["rounds"]), "flat"),
        ("soak: descriptors per round", " ".join(str(r["fds"]) for r in results["soak"]["rounds"]), "flat"),
        (
            "soak: descriptors during a flood of 320",
            max(r["fds_during_flood"] for r in results["soak"]["rounds"]),
            "< 60",
        ),
        ("soak: requests unanswered", results["soak"]["unanswered"], "0"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}}  {'measured':<12}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value!s:<12}  {target}")
    targets = {
        "crashes": fuzzed["crashes"] == 0,
        "hangs": fuzzed["hangs"] == 0,
        "bad_codes": fuzzed["bad_codes"] == 0,
        "lost": lost == 0,
        "changed_outside": results["hostile"]["changed_outside"] == 0,
        "soak_flat": results["soak"]["flat"],
        "soak_answered": results["soak"]["unanswered"] == 0,
    }
    print(
        json.dumps(
            {
                "bench": "faults",
                **results,
                "lost": lost,
                "targets": targets,
                "targets_met": all(targets.values()),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
