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
from typing import IO, Any

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


def first_answers(
    command: list[str], root: Path, requests: tuple[bytes, bytes], read: Callable[[IO[bytes]], bytes]
) -> tuple[float, float]:
    """Milliseconds from starting ``command`` in ``root`` to its answer to the first request
    (initialize), and to its answer to the second (sent once the first is answered: the
    server ready for real work); messages read off its stdout by ``read``, notifications
    skipped. The server is then killed."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert proc.stdin is not None and proc.stdout is not None
    times = []
    for msg_id, request in enumerate(requests, 1):
        proc.stdin.write(request)
        proc.stdin.flush()
        while (answer := json.loads(read(proc.stdout))).get("id") != msg_id:
            pass
        times.append((time.perf_counter() - started) * 1000)
        assert "result" in answer, answer
    proc.kill()
    proc.wait()
    return times[0], times[1]


def _lsp_frame(stdout: IO[bytes]) -> bytes:
    length = 0
    while line := stdout.readline().strip():
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return stdout.read(length)


def _lsp(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def lsp_first_answers(command: list[str], root: Path) -> tuple[float, float]:
    """initialize, then initialized and shutdown: every server answers shutdown, and only
    once it is wholly loaded."""
    params = {**INITIALIZE_LSP["params"], "rootUri": root.as_uri()}  # type: ignore[dict-item]
    then = _lsp({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    then += _lsp({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    return first_answers(command, root, (_lsp({**INITIALIZE_LSP, "params": params}), then), _lsp_frame)


def mcp_first_answers(command: list[str], root: Path) -> tuple[float, float]:
    """initialize, then notifications/initialized and tools/list (what a client asks next)."""
    then = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode() + b"\n"
    then += json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).encode() + b"\n"
    first = json.dumps(INITIALIZE_MCP).encode() + b"\n"
    return first_answers(command, root, (first, then), lambda out: out.readline())


def bare(command: list[str], root: Path) -> tuple[float, float]:
    started = time.perf_counter()
    subprocess.run(command, cwd=root, check=True)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, elapsed


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
            "scribe-ls serve (LSP)": (lsp_first_answers, [*scribe, "serve"]),
            "pylsp": (lsp_first_answers, others["pylsp"]),
            "jedi-language-server": (lsp_first_answers, others["jedi-language-server"]),
            "scribe-ls mcp": (mcp_first_answers, [*scribe, "mcp"]),
            "server-memory (node)": (mcp_first_answers, others["server-memory (node)"]),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        second: dict[str, list[float]] = {name: [] for name in cases}
        order = list(cases)
        rng = random.Random(29)
        env_before = dict(os.environ)
        os.environ["SCRIBE_LS_DAEMON"] = "0"
        for round_number in range(args.runs + 2):
            rng.shuffle(order)
            for name in order:
                root = make_repo(Path(tmp) / f"r{round_number}-{len(samples[name])}-{order.index(name)}")
                measure, command = cases[name]
                elapsed, ready = measure(command, root)
                if round_number >= 2:
                    samples[name].append(elapsed)
                    second[name].append(ready)
                shutil.rmtree(root, ignore_errors=True)
        os.environ.clear()
        os.environ.update(env_before)
    rows = {name: summary(ms, 1) for name, ms in samples.items()}
    then = {name: summary(ms, 1) for name, ms in second.items() if not name.startswith("bare")}
    size = footprint()
    print(f"after a cold start, {args.runs} shuffled runs each (ms): the answer to initialize, and to")
    print("the next request (LSP: shutdown; MCP: tools/list), sent once initialize is answered")
    print(f"{'server':<26}{'initialize p50':>15}{'p95':>9}{'next p50':>10}{'p95':>9}")
    for name, row in rows.items():
        more = f"{then[name]['p50_ms']:>10.1f}{then[name]['p95_ms']:>9.1f}" if name in then else ""
        print(f"{name:<26}{row['p50_ms']:>15.1f}{row['p95_ms']:>9.1f}{more}")
    print(f"environment: {size['distributions']} distributions, {size['megabytes']} MB ({sys.prefix})")
    lsp, mcp = rows["scribe-ls serve (LSP)"]["p50_ms"], rows["scribe-ls mcp"]["p50_ms"]
    print(
        json.dumps(
            {
                "bench": "startup",
                "runs": args.runs,
                "first_answer": rows,
                "next_answer": then,
                "footprint": size,
                "initialize_p50_ms": lsp,
                "initialize_over_pylsp": round(lsp / rows["pylsp"]["p50_ms"], 2),
                "mcp_ready_p50_ms": mcp,
                "mcp_over_node": round(mcp / rows["server-memory (node)"]["p50_ms"], 2),
                "lsp_next_p50_ms": then["scribe-ls serve (LSP)"]["p50_ms"],
                "mcp_tools_p50_ms": then["scribe-ls mcp"]["p50_ms"],
                "initialize_target_met": lsp <= 200,
                "mcp_target_met": mcp <= 350,
            }
        )
    )


if __name__ == "__main__":
    main()
