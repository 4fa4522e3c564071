"""``scribe-ls mcp`` answers ``initialize`` before loading the MCP SDK (agents/mcp_handshake.py):
over the wire, the early answer is the SDK's own, byte for byte, and the session goes on."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(60)

MISMATCH = b"was answered early with"  # what mcp_stdio.Answered logs if the two answers differ


def hello(protocol: Any, capabilities: Any, **client: str) -> dict[str, Any]:
    """initialize params: a protocol version, capabilities and clientInfo."""
    return {"protocolVersion": protocol, "capabilities": capabilities, "clientInfo": client}


# What MCP clients send first (Claude Code's shape, the SDK client's, others).
CLIENTS: list[dict[str, Any]] = [
    hello("2025-06-18", {"roots": {}}, name="claude-code", version="2.1.3"),
    hello("2025-11-25", {}, name="mcp", version="0.1.0"),
    hello(
        "2024-11-05", {"roots": {"listChanged": True}, "sampling": {}}, name="old", version="1", title="Old"
    ),
    hello(
        "2025-03-26",
        {"elicitation": {"form": {}}, "experimental": {"x": {"y": 1}}},
        name="ünï ✓",
        version="1",
    ),
    hello("2031-01-01", {}, name="future", version="9"),
]


class McpProcess:
    def __init__(self, proc: asyncio.subprocess.Process, stderr: Any) -> None:
        self.proc, self.stderr = proc, stderr

    @classmethod
    async def start(cls, repo: Path) -> McpProcess:
        stderr = tempfile.TemporaryFile()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scribe_ls", "mcp", cwd=repo, limit=2**24,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )  # fmt: skip
        return cls(proc, stderr)

    async def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def line(self, timeout: float = 15) -> bytes:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert line, "the server closed its output"
        return line

    async def end(self) -> bytes:
        """Close stdin (how an MCP client ends the server); its exit status is 0; its log."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert await asyncio.wait_for(self.proc.wait(), 15) == 0
        self.stderr.seek(0)
        return self.stderr.read()


async def first_answer(repo: Path, params: dict[str, Any]) -> tuple[bytes, bytes]:
    """The answer line to an initialize with ``params``, and the server's log."""
    server = await McpProcess.start(repo)
    await server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    answer = await server.line()
    return answer, await server.end()


@pytest.mark.parametrize("params", CLIENTS, ids=lambda p: p["clientInfo"]["name"])
async def test_the_early_answer_is_the_sdks_byte_for_byte(repo: Path, params: dict[str, Any]) -> None:
    """The same initialize with a ``_meta`` (which the early path leaves to the SDK) gets the
    SDK's answer: the two lines are the same bytes, and neither server logged a mismatch."""
    (early, early_log), (sdk, sdk_log) = await asyncio.gather(
        first_answer(repo, params), first_answer(repo, {**params, "_meta": {}})
    )
    assert early == sdk
    answer = json.loads(early)
    wanted = params["protocolVersion"] if params["protocolVersion"] < "2026" else "2025-11-25"
    assert answer["result"]["protocolVersion"] == wanted
    assert MISMATCH not in early_log and b"Traceback" not in early_log + sdk_log


async def test_a_session_goes_on_after_the_early_answer(repo: Path) -> None:
    """initialize answered once; tools listed and called; a second initialize is the SDK's."""
    server = await McpProcess.start(repo)
    try:
        await server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": CLIENTS[0]})
        await server.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await server.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        await server.send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "scribe_context", "arguments": {"max_chars": 2000}},
            }
        )
        answers = [json.loads(await server.line()) for _ in range(3)]
        assert [answer["id"] for answer in answers] == [1, 2, 3]
        assert "scribe_context" in {tool["name"] for tool in answers[1]["result"]["tools"]}
        assert answers[2]["result"]["isError"] is False, answers[2]
        assert "B-4242" in answers[2]["result"]["content"][0]["text"]
        await server.send({"jsonrpc": "2.0", "id": "probe", "method": "ping"})
        assert json.loads(await server.line())["id"] == "probe"  # nothing else came in between
    finally:
        log = await server.end()
    assert MISMATCH not in log


@pytest.mark.parametrize(
    "params",
    [
        hello(2025, {}, name="x", version="1"),
        {"protocolVersion": "2025-06-18", "capabilities": {}},
        hello("2025-06-18", {"roots": 5}, name="x", version="1"),
    ],
    ids=["version not a string", "no clientInfo", "roots not an object"],
)
async def test_a_bad_initialize_gets_the_sdks_error(repo: Path, params: dict[str, Any]) -> None:
    server = await McpProcess.start(repo)
    try:
        await server.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
        answer = json.loads(await server.line())
        assert answer["id"] == 1 and answer["error"]["code"] in (-32600, -32602), answer
    finally:
        await server.end()
