"""What the benchmarks share: percentiles, a latency summary, a git repository to work in,
and the CLI as a user of this environment runs it."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
from pathlib import Path

# The benches measure one process at a time: no background recorder taking their temp
# repositories (and the machine's cores) unless a bench starts one itself.
os.environ.setdefault("SCRIBE_LS_DAEMON", "0")

GIT = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(ms: list[float], digits: int = 3) -> dict[str, float]:
    """p50/p95/p99/max/mean of samples in milliseconds."""
    return {
        "p50_ms": round(percentile(ms, 50), digits),
        "p95_ms": round(percentile(ms, 95), digits),
        "p99_ms": round(percentile(ms, 99), digits),
        "max_ms": round(max(ms), digits),
        "mean_ms": round(statistics.fmean(ms), digits),
        "n": len(ms),
    }


def make_repo(root: Path, branch: str = "feature/B-4242-bench", files: int = 0) -> Path:
    """A git repository on ``branch`` with ``files`` committed modules (and one commit)."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([*GIT, "init", "-q", "-b", branch, str(root)], check=True)
    if files:
        (root / "src").mkdir()
        for n in range(files):
            (root / "src" / f"module{n}.py").write_text("x = 0\n")
        subprocess.run([*GIT, "add", "."], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "init"], cwd=root, check=True)
    return root


def cli_command() -> list[str]:
    """``scribe-ls`` as installed next to this interpreter (what a venv user runs; not a
    version manager's shim in front of it, which costs a shell start of its own)."""
    beside = Path(sys.executable).parent / "scribe-ls"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("scribe-ls")
    return [found] if found else [sys.executable, "-m", "scribe_ls"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
