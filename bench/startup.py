"""Start-up beside peers, in one run: how long until a client has its first answer.

- the language server: ``scribe-ls serve`` answering ``initialize`` on stdio, beside pylsp
  and jedi-language-server (installed from PyPI into a venv of their own, once);
- the MCP server: ``scribe-ls mcp`` answering ``initialize``, beside the reference Node
  server (``@modelcontextprotocol/server-memory`` from npm, once);
- bare ``python -c pass`` and ``node -e 0``, what any of them costs at least;
- the footprint: the packages and megabytes of this interpreter's environment (run it
  from a venv with ``pip install .``, as users run scribe-ls).

Runs are shuffled rounds, every server started cold in a fresh git repository each time.

    python bench/startup.py [--runs 15] [--peers DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from _common import cli_command, make_repo, summary

INITIALIZE_LSP = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"processId": None, "rootUri": None, "capabilities": {}}}  # fmt: skip
CLIENT = {"name": "bench", "version": "1"}
HELLO = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": CLIENT}
INITIALIZE_MCP = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": HELLO}


def peers(directory: Path) -> dict[str, list[str]]:
    """pylsp, jedi-language-server and the Node reference MCP server, installed once."""
    venv = directory / "venv"
    if not (venv / "bin" / "pylsp").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "python-lsp-server", "jedi-language-server"],
            check=True,
            capture_output=True,
        )
    node = directory / "node"
    server = node / "node_modules" / "@modelcontextprotocol" / "server-memory" / "dist" / "index.js"
    if not server.exists():
        node.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "-q", "--no-audit", "--no-fund", "@modelcontextprotocol/server-memory"],
            cwd=node,
            check=True,
            capture_output=True,
        )
    return {
        "pylsp": [str(venv / "bin" / "pylsp")],
        "jedi-language-server": [str(venv / "bin" / "jedi-language-server")],
        "server-memory (node)": ["node", str(server)],
    }


def first_answer(command: list[str], root: Path, request: bytes, read: Callable[[IO[bytes]], bytes]) -> float:
    """Milliseconds from starting ``command`` in ``root`` to its answer to ``request``
    (read off its stdout by ``read``); the server is then killed."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(request)
    proc.stdin.flush()
    answer = json.loads(read(proc.stdout))
    elapsed = (time.perf_counter() - started) * 1000
    proc.kill()
    proc.wait()
    assert "result" in answer, answer
    return elapsed


def _lsp_frame(stdout: IO[bytes]) -> bytes:
    length = 0
    while line := stdout.readline().strip():
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return stdout.read(length)


def lsp_first_answer(command: list[str], root: Path) -> float:
    params = {**INITIALIZE_LSP["params"], "rootUri": root.as_uri()}  # type: ignore[dict-item]
    body = json.dumps({**INITIALIZE_LSP, "params": params}).encode()
    return first_answer(command, root, b"Content-Length: %d\r\n\r\n" % len(body) + body, _lsp_frame)


def mcp_first_answer(command: list[str], root: Path) -> float:
    return first_answer(
        command, root, json.dumps(INITIALIZE_MCP).encode() + b"\n", lambda out: out.readline()
    )


def bare(command: list[str], root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=root, check=True)
    return (time.perf_counter() - started) * 1000


def footprint() -> dict[str, float]:
    """This interpreter's environment: installed distributions and their bytes."""
    import site

    packages = Path(site.getsitepackages()[0])
    dists = list(packages.glob("*.dist-info"))
    size = sum(f.stat().st_size for f in packages.rglob("*") if f.is_file())
    return {"distributions": len(dists), "megabytes": round(size / 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--peers", type=Path, help="where pylsp, jedi-language-server and node's server live")
    args = parser.parse_args()
    cache = args.peers or Path(tempfile.gettempdir()) / "scribe-bench-startup-peers"
    others = peers(cache)
    scribe = cli_command()
    with tempfile.TemporaryDirectory(prefix="scribe-bench-startup-") as tmp:
        cases = {
            "bare python": (bare, [sys.executable, "-c", "pass"]),
            "bare node": (bare, ["node", "-e", "0"]),
            "scribe-ls serve (LSP)": (lsp_first_answer, [*scribe, "serve"]),
            "pylsp": (lsp_first_answer, others["pylsp"]),
            "jedi-language-server": (lsp_first_answer, others["jedi-language-server"]),
            "scribe-ls mcp": (mcp_first_answer, [*scribe, "mcp"]),
            "server-memory (node)": (mcp_first_answer, others["server-memory (node)"]),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        order = list(cases)
        rng = random.Random(29)
        env_before = dict(os.environ)
        os.environ["SCRIBE_LS_DAEMON"] = "0"
        for round_number in range(args.runs + 2):
            rng.shuffle(order)
            for name in order:
                root = make_repo(Path(tmp) / f"r{round_number}-{len(samples[name])}-{order.index(name)}")
                measure, command = cases[name]
                elapsed = measure(command, root)
                if round_number >= 2:
                    samples[name].append(elapsed)
                shutil.rmtree(root, ignore_errors=True)
        os.environ.clear()
        os.environ.update(env_before)
    rows = {name: summary(ms, 1) for name, ms in samples.items()}
    size = footprint()
    print(f"first answer after a cold start, {args.runs} shuffled runs each (ms)")
    print(f"{'server':<26}{'p50':>9}{'p95':>9}")
    for name, row in rows.items():
        print(f"{name:<26}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}")
    print(f"environment: {size['distributions']} distributions, {size['megabytes']} MB ({sys.prefix})")
    lsp, mcp = rows["scribe-ls serve (LSP)"]["p50_ms"], rows["scribe-ls mcp"]["p50_ms"]
    print(
        json.dumps(
            {
                "bench": "startup",
                "runs": args.runs,
                "first_answer": rows,
                "footprint": size,
                "initialize_p50_ms": lsp,
                "initialize_over_pylsp": round(lsp / rows["pylsp"]["p50_ms"], 2),
                "mcp_ready_p50_ms": mcp,
                "mcp_over_node": round(mcp / rows["server-memory (node)"]["p50_ms"], 2),
                "initialize_target_met": lsp <= 200,
                "mcp_target_met": mcp <= 350,
            }
        )
    )


if __name__ == "__main__":
    main()
