"""A coding agent's hooks: what the agent waits for on every event.

Installs the hooks in a temp repository (``scribe-ls hooks install``) and runs the
commands written there as Claude Code does (through ``sh -c``, the documented payload on
stdin, ``$CLAUDE_PROJECT_DIR`` set), in shuffled rounds against a bare ``python -c pass``:
PostToolUse (a Write), UserPromptSubmit, and SessionStart with its context packet (cold:
a new agent session each time). Then ``--calls`` PostToolUse hooks in a row: every one
recorded (nothing lost), and each hook process's peak memory as it was at the start.

Then the other way, measured to choose: the same PostToolUse payload as an HTTP hook
(Claude Code's ``type: "http"``: a POST per event, a new connection each) to a process
holding the store open, as the background recorder would (bench/_http_hook_server.py).

Targets: PostToolUse p50 <= bare + 30 ms (or <= 5 ms as an HTTP hook) and p99 <= 100 ms;
SessionStart p50 <= 200 ms.

    python bench/hooks.py [--runs 40] [--calls 1000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import cli_command, make_repo, summary

FIXTURES = Path(__file__).parent.parent / "tests" / "data" / "hooks" / "claude-code"


def payload(name: str, root: Path, **changes: Any) -> str:
    text = (FIXTURES / f"{name}.json").read_text().replace("/home/dev/project", str(root))
    return json.dumps(json.loads(text) | changes)


def hook_commands(root: Path) -> dict[str, str]:
    settings = json.loads((root / ".claude" / "settings.json").read_text())
    return {event: groups[-1]["hooks"][0]["command"] for event, groups in settings["hooks"].items()}


def run(command: list[str], stdin: str, env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, input=stdin, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0 or done.stderr:
        raise SystemExit(f"a hook failed: {done.returncode} {done.stderr}")
    return elapsed


def http_hook_ms(root: Path, runs: int) -> dict[str, float]:
    """PostToolUse as an HTTP hook: a POST on a new loopback connection per event, answered
    once its entry is durable, as Claude Code would send it."""
    token = os.urandom(16).hex()
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "_http_hook_server.py"), str(root), token],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        port = int(server.stdout.readline())
        samples = []
        for n in range(runs + 3):
            body = payload(
                "PostToolUse.Write", root, tool_input={"file_path": str(root / "src" / f"h{n}.py")}
            )
            started = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request(
                "POST",
                "/hooks/claude-code/PostToolUse",
                body=body.encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )
            status = connection.getresponse().status
            connection.close()
            if status != 200:
                raise SystemExit(f"the HTTP hook answered {status}")
            if n >= 3:
                samples.append((time.perf_counter() - started) * 1000)
        server.stdin.close()
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
    return summary(samples, 2)


def child_peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scribe-bench-hooks-") as tmp:
        root = make_repo(Path(tmp) / "repo", branch="feature/B-2701-hooks")
        env = {**os.environ, "CLAUDE_PROJECT_DIR": str(root), "SCRIBE_LS_DAEMON": "0"}
        subprocess.run(
            [*cli_command(), "hooks", "install"], cwd=root, env=env, check=True, capture_output=True
        )
        commands = hook_commands(root)
        (root / "src").mkdir()
        cases = {
            "bare python": ([sys.executable, "-c", "pass"], ""),
            "PostToolUse (Write)": (
                ["sh", "-c", commands["PostToolUse"]],
                payload("PostToolUse.Write", root),
            ),
            "UserPromptSubmit": (
                ["sh", "-c", commands["UserPromptSubmit"]],
                payload("UserPromptSubmit", root),
            ),
            "SessionStart (packet)": (
                ["sh", "-c", commands["SessionStart"]],
                payload("SessionStart.startup", root),
            ),
            "bare sh + python": (["sh", "-c", shlex.join([sys.executable, "-c", "pass"])], ""),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        order = list(cases)
        rng = random.Random(27)
        for round_number in range(args.runs + 3):
            rng.shuffle(order)
            for name in order:
                command, stdin = cases[name]
                elapsed = run(command, stdin, env, root)
                if round_number >= 3:
                    samples[name].append(elapsed)
        rows = {name: summary(ms, 1) for name, ms in samples.items()}
        rows["PostToolUse as HTTP hook"] = http_hook_ms(root, args.runs * 5)

        db = sqlite3.connect(root / ".scribe" / "scribe.db")
        before = db.execute("SELECT COUNT(*) FROM entries WHERE kind = 'agent'").fetchone()[0]
        peaks: list[int] = []
        command = ["sh", "-c", commands["PostToolUse"]]
        started = time.perf_counter()
        for n in range(args.calls):
            body = payload(
                "PostToolUse.Write", root, tool_input={"file_path": str(root / "src" / f"m{n}.py")}
            )
            run(command, body, env, root)
            if n in (0, args.calls // 2, args.calls - 1):
                peaks.append(child_peak_kib())
        burst_s = time.perf_counter() - started
        after = db.execute("SELECT COUNT(*) FROM entries WHERE kind = 'agent'").fetchone()[0]
        db.close()

    bare, sh_bare = rows["bare python"]["p50_ms"], rows["bare sh + python"]["p50_ms"]
    post, start = rows["PostToolUse (Write)"], rows["SessionStart (packet)"]
    over_http = rows["PostToolUse as HTTP hook"]
    print(f"hook commands as Claude Code runs them (sh -c, payload on stdin), {args.runs} shuffled runs each")
    print(f"{'command':<24}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'over bare':>11}")
    for name, row in rows.items():
        over = f"{row['p50_ms'] - bare:>11.1f}" if "HTTP" not in name else f"{'(no process)':>13}"
        print(f"{name:<24}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}{over}")
    lost = args.calls - (after - before)
    print(
        f"{args.calls} PostToolUse hooks in a row: {after - before} recorded, {lost} lost, {burst_s:.1f} s;"
        f" a hook process's peak RSS {peaks[0] / 1024:.1f} -> {peaks[-1] / 1024:.1f} MB"
    )
    targets = {
        "post_tool_use_p50_over_bare_ms": round(post["p50_ms"] - bare, 1),
        "post_tool_use_p50_target_met": post["p50_ms"] - bare <= 30,
        "post_tool_use_p99_target_met": post["p99_ms"] <= 100,
        "session_start_p50_target_met": start["p50_ms"] <= 200,
        "http_hook_p50_ms": over_http["p50_ms"],
        "http_hook_p50_target_met": over_http["p50_ms"] <= 5,
        "nothing_lost": lost == 0,
        "rss_flat": peaks[-1] <= peaks[0] * 1.1 + 1024,
    }
    print(
        json.dumps(
            {
                "bench": "hooks",
                "runs": args.runs,
                "hooks": rows,
                "sh_overhead_ms": round(sh_bare - bare, 1),
                "calls": args.calls,
                "recorded": after - before,
                "lost": lost,
                "burst_seconds": round(burst_s, 1),
                "peak_rss_kib": peaks,
                **targets,
            }
        )
    )


if __name__ == "__main__":
    main()
