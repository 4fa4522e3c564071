"""MCP on stdio, byte for byte: every request line gets exactly one answer, in the language
server's words, and the server goes on (what an MCP client's bugs or a fuzzer send)."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.agents.mcp_stdio import check_line, surrogate_at

from .helpers import run_cli

pytestmark = pytest.mark.timeout(60)

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}

# (line, the id of its answer, code, words the message holds)
CASES: list[tuple[bytes, Any, int, str]] = [
    (b'{"jsonrpc":"2.0","id":1,"method":', 1, -32700, "not valid UTF-8 JSON"),
    (b'{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"x":"\xff"}}', 2, -32700, "not valid UTF-8"),
    (
        b'{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"x":' + b"[" * 5000 + b"]" * 5000 + b"}}",
        3, -32700, "deeper than 64 levels (the limit)",
    ),
    (
        b'{"jsonrpc":"2.0","id":4,"method":"tools/list","params":{"x":' + b"[" * 100 + b"]" * 100 + b"}}",
        4, -32600, "deeper than 64 levels (the limit)",
    ),
    (
        b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"scribe_note",'
        b'"arguments":{"text":"a\\ud800b"}}}',
        5, -32602, "params.arguments.text: holds a lone surrogate",
    ),
    (b"[1,2]", None, -32600, "batches are not supported"),
    (b'{"jsonrpc":"2.0","id":8}', 8, -32600, "method is missing"),
    (b'{"jsonrpc":"2.0","id":9,"method":"tools/list","params":[1]}', 9, -32600, "invalid request"),
    (b'{"jsonrpc":"1.0","id":10,"method":"tools/list"}', 10, -32600, 'jsonrpc must be "2.0"'),
    (b'"hello"', None, -32600, "expected a JSON object"),
    (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', None, -32600, "id must be a string"),
]  # fmt: skip


class RawMcp:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def send(self, line: bytes | dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        data = json.dumps(line).encode() if isinstance(line, dict) else line
        self.proc.stdin.write(data + b"\n")
        await self.proc.stdin.drain()

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert line, "the server closed its output"
        return json.loads(line)

    async def nothing_more(self) -> None:
        """No second answer is on its way: the next answer is to a probe request."""
        await self.send({"jsonrpc": "2.0", "id": "probe", "method": "tools/list"})
        answer = await self.receive()
        assert answer["id"] == "probe" and "result" in answer, answer


async def start(repo: Path) -> RawMcp:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scribe_ls", "mcp", cwd=repo, limit=2**24,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=tempfile.TemporaryFile(),
    )  # fmt: skip
    peer = RawMcp(proc)
    await peer.send(INIT)
    assert "result" in await peer.receive()
    await peer.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return peer


async def test_every_malformed_request_line_gets_exactly_one_answer(repo: Path) -> None:
    peer = await start(repo)
    try:
        for line, msg_id, code, words in CASES:
            await peer.send(line)
            answer = await peer.receive()
            assert answer["id"] == msg_id, (line[:60], answer)
            assert answer["error"]["code"] == code, (line[:60], answer)
            assert words in answer["error"]["message"], (line[:60], answer)
            await peer.nothing_more()
        # A NUL in a tool's text is the tool's error, naming the field.
        await peer.send(
            {
                "jsonrpc": "2.0",
                "id": 20,
                "method": "tools/call",
                "params": {"name": "scribe_note", "arguments": {"text": "a\u0000b"}},
            }
        )
        answer = await peer.receive()
        assert (
            answer["result"]["isError"]
            and "text: must not contain NUL" in answer["result"]["content"][0]["text"]
        )
        # A line over the message limit is answered and skipped, the next one is read.
        await peer.send(
            b'{"jsonrpc":"2.0","id":21,"method":"tools/list","params":{"x":"' + b"a" * (17 << 20) + b'"}}'
        )
        answer = await peer.receive()
        assert (
            answer["id"] == 21
            and answer["error"]["code"] == -32600
            and "over the limit" in answer["error"]["message"]
        )
        await peer.nothing_more()
    finally:
        peer.proc.kill()
        await peer.proc.wait()


async def test_argument_errors_name_the_field_in_the_servers_words(repo: Path) -> None:
    peer = await start(repo)
    try:
        calls = [
            ("prompts/get", {"name": "resume", "arguments": {"backlog_id": "B-1\u0000"}}),
            ("tools/call", {"name": "scribe_context", "arguments": {"sections": ["gti"]}}),
            ("tools/call", {"name": "scribe_note", "arguments": {}}),
        ]
        for msg_id, (method, params) in enumerate(calls, start=1):
            await peer.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        prompt = await peer.receive()
        assert prompt["error"]["code"] == -32602  # was code 0, "Error rendering prompt resume"
        assert prompt["error"]["message"] == "backlog_id: must not contain NUL characters"
        context = (await peer.receive())["result"]["content"][0]["text"]
        assert "sections[0]: must be one of 'session', 'git'" in context and 'got "gti"' in context
        assert "pydantic" not in context and "validation error" not in context
        note = (await peer.receive())["result"]["content"][0]["text"]
        assert note == "Error executing tool scribe_note: text: is required"
    finally:
        peer.proc.kill()
        await peer.proc.wait()


def test_check_line_passes_good_lines_untouched() -> None:
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode()
    assert check_line(line) == (line.decode(), [])
    assert check_line(b"   ") == (None, [])
    notification = json.dumps({"jsonrpc": "2.0", "method": "notifications/x", "params": {"t": "\ud800"}})
    assert check_line(notification.encode()) == (None, [])  # nothing to answer, dropped


def test_surrogate_at_names_the_path() -> None:
    assert surrogate_at({"a": [1, {"b": "ok"}, "x\udfffy"]}, "params") == "params.a[2]"
    assert surrogate_at({"a": "fine"}, "params") is None


def test_the_server_exits_when_its_stdin_closes(repo: Path) -> None:
    """A client that goes away (its end of the pipe closed) leaves no server behind."""
    import subprocess

    client = {"name": "t", "version": "1"}
    params = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": client}
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
    # Requests written just before the pipe closes are answered first, each once.
    calls = [
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "scribe_context", "arguments": {}},
        },
        {"jsonrpc": "2.0", "id": "3", "method": "tools/list", "params": {}},
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "scribe_search", "arguments": {}},
        },
    ]
    for stdin in ("", "".join(json.dumps(m) + "\n" for m in [hello, *calls])):
        done = subprocess.run(
            [sys.executable, "-m", "scribe_ls", "mcp"], input=stdin, cwd=repo, capture_output=True, text=True,
            timeout=30,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    answered = [json.loads(line)["id"] for line in done.stdout.splitlines()]
    assert sorted(map(str, answered)) == ["1", "2", "3", "4"]


async def test_every_tool_says_what_it_does_to_the_world(repo: Path) -> None:
    """Behaviour hints, which clients read to decide what to run without asking."""
    peer = await start(repo)
    try:
        await peer.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = {t["name"]: t.get("annotations") for t in (await peer.receive())["result"]["tools"]}
        await peer.send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                         "params": {"name": "scribe_note", "arguments": "write this"}})  # fmt: skip
        odd = await peer.receive()
    finally:
        peer.proc.kill()
        await peer.proc.wait()
    assert all(hints is not None and hints["openWorldHint"] is False for hints in tools.values()), tools
    reads = {name for name, hints in tools.items() if hints["readOnlyHint"]}
    assert reads == {
        "scribe_context", "scribe_list_sessions", "scribe_search",
        "scribe_resume", "scribe_report", "scribe_team",
    }  # fmt: skip
    assert tools["scribe_stop_session"]["destructiveHint"] is True
    assert tools["scribe_note"] == {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False,
                                    "openWorldHint": False}  # fmt: skip
    assert odd["error"] == {"code": -32602, "message": "params.arguments: expected an object, got string"}


def test_without_the_mcp_extra_the_server_says_how_to_add_it(repo: Path, tmp_path: Path) -> None:
    """The SDK is an extra (scribe-ls[mcp]): where it is not installed, `scribe-ls mcp`
    says what to install; everything else works without it."""
    import os

    blocked = tmp_path / "no-mcp"
    blocked.mkdir()
    # As if not installed: the import system finds no module named mcp or mcp_types.
    (blocked / "sitecustomize.py").write_text(
        "import sys\n"
        "class NotInstalled:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('mcp', 'mcp_types'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NotInstalled())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(blocked)}
    done = run_cli(repo, "mcp", env=env)
    assert done.returncode == 1 and "python -m pip install 'scribe-ls[mcp]'" in done.stderr
    assert run_cli(repo, "start", env=env).returncode == 0
