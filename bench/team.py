"""Sharing through the git remote at a team's scale: a bare repository as the remote, 20
authors' logs of a month of activity on it (written with git fast-import in the shape
scribe-ls writes them: a segment per sync, about 40 syncs with news a working day), then
a developer's clone reading them all.

Measured, as users run it (``scribe-ls sync`` as a process):
- the first sync (every log fetched and read into the store);
- an incremental sync after one teammate's note, beside git's own fetch of the same refs in
  a second clone at the same point (what git costs of it; the rest is ours);
- the store's size per shared session, and the remote's bytes per author.

Targets: first sync <= 5 s; incremental <= 300 ms plus git's own fetch.

    python bench/team.py [--authors 20] [--days 22] [--syncs-per-day 40]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import GIT, cli_command

from scribe_ls.team import records as rec

WORDS = "cache packet head diff budget token worklog branch commit review test index store sync".split()


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


def author_log(n: int, days: int, syncs_per_day: int, rng: random.Random) -> tuple[str, list[bytes], int]:
    """One author's writer id and segments (each a log.jsonl), and how many sessions."""
    email = f"dev{n}@example.com"
    writer = f"{rec.author_id(email)}/{rec.new_writer_id()}"
    segments: list[bytes] = []
    entry_id = 0
    sessions = 0
    for day in range(days):
        date = f"2026-11-{day + 1:02d}"
        session = {
            "t": "session",
            "id": f"s-{n:04x}{day:08x}",
            "backlogId": f"B-{1000 + n * 10 + day % 5}",
            "title": f"work {day}",
            "branch": f"feature/B-{1000 + n * 10 + day % 5}-x",
            "status": "active",
            "startedAt": f"{date}T09:00:00.000Z",
            "endedAt": None,
            "lastActivityAt": f"{date}T09:00:00.000Z",
            "activeSeconds": 0.0,
            "files": [],
        }
        sessions += 1
        files: list[str] = []
        for sync in range(syncs_per_day):
            minute = sync * 2
            at = f"{date}T{9 + minute // 60:02d}:{minute % 60:02d}:00.000Z"
            found: list[dict[str, Any]] = (
                [{"t": "hello", "format": 1, "name": f"Dev {n}", "email": email}] if not segments else []
            )
            for _ in range(3):  # a few entries per sync: saves, now and then a note
                entry_id += 1
                path = f"src/{rng.choice(WORDS)}/{rng.choice(WORDS)}.py"
                files = sorted({*files, path})[:200]
                kind = "activity" if rng.random() < 0.8 else rng.choice(("note", "decision", "todo"))
                text = "Changes: 1 file(s)" if kind == "activity" else " ".join(rng.choices(WORDS, k=12))
                found.append(
                    {
                        "t": "entry",
                        "id": entry_id,
                        "session": session["id"],
                        "at": at,
                        "kind": kind,
                        "text": text,
                        "files": [path],
                        "author": None,
                    }
                )
            session = {**session, "lastActivityAt": at, "activeSeconds": float(minute * 60), "files": files}
            found.append(session)
            found.append(
                {
                    "t": "time",
                    "day": date,
                    "item": session["backlogId"],
                    "branch": session["branch"],
                    "seconds": minute * 60,
                }
            )
            segments.append(rec.encode(found))
        session = {**session, "status": "completed", "endedAt": f"{date}T18:00:00.000Z"}
        segments.append(rec.encode([session]))
    return writer, segments, sessions


def fast_import(repo: Path, ref: str, segments: list[bytes], start: int) -> None:
    """The segments as commits on ``ref``, one per segment, as scribe-ls writes them."""
    tip = subprocess.run([*GIT, "rev-parse", "--verify", "-q", ref], cwd=repo, capture_output=True, text=True)
    chunks: list[bytes] = []
    for number, blob in enumerate(segments):
        message = b"scribe-ls: %d records\n" % blob.count(b"\n")
        chunks += [
            f"commit {ref}\n".encode(),
            f"committer Dev <dev@example.com> {start + number * 120} +0000\n".encode(),
            b"data %d\n" % len(message) + message,
            f"from {tip.stdout.strip()}\n".encode() if number == 0 and tip.returncode == 0 else b"",
            b"M 100644 inline log.jsonl\n",
            b"data %d\n" % len(blob) + blob + b"\n",
        ]
    subprocess.run([*GIT, "fast-import", "--quiet"], cwd=repo, input=b"".join(chunks), check=True)


def developer(base: Path, remote: Path, name: str) -> tuple[Path, dict[str, str]]:
    home = base / f"home-{name}"
    for sub in ("", ".config", ".local/state", "run"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(home / "run", 0o700)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_RUNTIME_DIR": str(home / "run"),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "SCRIBE_LS_DAEMON": "0",
    }
    root = base / name
    subprocess.run(["git", "clone", "-q", str(remote), str(root)], env=env, check=True, capture_output=True)
    git(root, "config", "user.email", f"{name}@example.com", env=env)
    git(root, "config", "user.name", name, env=env)
    git(root, "checkout", "-q", "-b", "feature/B-9999-bench", env=env)
    return root, env


def store_bytes(db: Path) -> int:
    """The store's file and its write-ahead log."""
    wal = db.with_name(db.name + "-wal")
    return db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def cli(root: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*cli_command(), *args], cwd=root, env=env, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise SystemExit(f"scribe-ls {' '.join(args)} failed: {done.stderr}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--authors", type=int, default=20)
    parser.add_argument("--days", type=int, default=22, help="working days in the month")
    parser.add_argument("--syncs-per-day", type=int, default=40, help="syncs with something new, a day")
    parser.add_argument("--runs", type=int, default=5, help="incremental syncs measured")
    args = parser.parse_args()
    rng = random.Random(28)

    with tempfile.TemporaryDirectory(prefix="scribe-bench-team-") as tmp:
        base = Path(tmp)
        remote = base / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
        forge = base / "forge"
        subprocess.run(["git", "init", "-q", "-b", "main", str(forge)], check=True)
        git(forge, "commit", "-q", "--allow-empty", "-m", "init")
        git(forge, "push", "-q", str(remote), "main")
        sessions = 0
        writers = []
        generated = time.perf_counter()
        for n in range(args.authors):
            writer, segments, count = author_log(n, args.days, args.syncs_per_day, rng)
            sessions += count
            writers.append(writer)
            fast_import(forge, f"refs/scribe/{writer}", segments, 1764000000)
        git(forge, "push", "-q", str(remote), "refs/scribe/*:refs/scribe/*")
        generated_s = time.perf_counter() - generated
        remote_bytes = sum(f.stat().st_size for f in remote.rglob("*") if f.is_file())

        reader, env = developer(base, remote, "reader")
        twin, twin_env = developer(base, remote, "twin")  # git's own fetch, at the same points
        cli(reader, env, "start", "--quiet")
        cli(reader, env, "share", "on")
        db = reader / ".scribe" / "scribe.db"
        before = store_bytes(db)
        first_ms, out = cli(reader, env, "sync", "--json")
        report = json.loads(out)
        read = sum(report["imported"].values())
        after = store_bytes(db)
        spec = "+refs/scribe/*:refs/scribe-fetched/origin/*"
        git(twin, "fetch", "-q", "origin", spec, env=twin_env)

        incremental: list[float] = []
        fetch_only: list[float] = []
        for run in range(args.runs):
            note = rec.encode(
                [
                    {
                        "t": "entry",
                        "id": 10**6 + run,
                        "session": f"s-{0:04x}{0:08x}",
                        "at": "2026-12-07T09:00:00.000Z",
                        "kind": "note",
                        "text": f"one more note {run}",
                        "files": [],
                        "author": None,
                    }
                ]
            )
            fast_import(forge, f"refs/scribe/{writers[0]}", [note], 1765000000 + run * 120)
            git(forge, "push", "-q", str(remote), f"refs/scribe/{writers[0]}:refs/scribe/{writers[0]}")
            ms, out = cli(reader, env, "sync", "--json")
            assert json.loads(out)["imported"], "the note was read"
            incremental.append(ms)
            started = time.perf_counter()
            git(twin, "fetch", "-q", "origin", spec, env=twin_env)
            fetch_only.append((time.perf_counter() - started) * 1000)

    inc = sorted(incremental)[len(incremental) // 2]
    fetch = sorted(fetch_only)[len(fetch_only) // 2]
    segments_total = args.authors * args.days * (args.syncs_per_day + 1)
    per_session = (after - before) / max(1, sessions)
    print(
        f"{args.authors} authors x {args.days} days x {args.syncs_per_day} syncs:"
        f" {segments_total:,} segments, {read:,} records used, {sessions} sessions"
        f" (generated in {generated_s:.1f} s)"
    )
    print(f"{'figure':<44}{'value':>14}  target")
    print(f"{'first sync (scribe-ls sync, whole process)':<44}{first_ms / 1000:>12.2f} s  <= 5 s")
    print(f"{'incremental sync after one note, p50':<44}{inc:>11.0f} ms  <= 300 ms + git's fetch")
    print(f"{'  git fetch of the same refs alone, p50':<44}{fetch:>11.0f} ms")
    print(f"{'  ours over git fetch':<44}{inc - fetch:>11.0f} ms  <= 300 ms")
    print(f"{'store growth per shared session':<44}{per_session / 1024:>11.1f} KiB")
    print(f"{'remote bytes per author (a month)':<44}{remote_bytes / args.authors / 1024:>11.0f} KiB")
    print(
        json.dumps(
            {
                "bench": "team",
                "authors": args.authors,
                "days": args.days,
                "syncs_per_day": args.syncs_per_day,
                "segments": segments_total,
                "records": read,
                "sessions": sessions,
                "first_sync_s": round(first_ms / 1000, 2),
                "incremental_p50_ms": round(inc, 1),
                "git_fetch_p50_ms": round(fetch, 1),
                "ours_over_fetch_ms": round(inc - fetch, 1),
                "store_bytes_per_session": round(per_session),
                "remote_bytes_per_author": round(remote_bytes / args.authors),
                "first_sync_target_met": first_ms <= 5000,
                "incremental_target_met": inc - fetch <= 300,
            }
        )
    )


if __name__ == "__main__":
    main()
