"""Exactly one answer to every request, whatever its bytes: JSON nested past the depth
limit and notification methods sent with an id, on stdio, TCP and WebSocket."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from scribe_ls.rpc import framing

from .helpers import SERVER, free_port, port_listening, start_dashboard
from .rawrpc import RawPeer, ws_ask
from .rawrpc import ask as ask_frame

pytestmark = pytest.mark.timeout(60)

TOKEN = "one-answer-token"


def nested(msg_id: int, depth: int) -> str:
    """A getContext request whose params carry ``depth`` arrays inside each other (the
    whole message nests ``depth + 2`` levels: the envelope, params, then the arrays)."""
    return (
        f'{{"jsonrpc":"2.0","id":{msg_id},"method":"scribe/getContext",'
        f'"params":{{"sections":["session"],"x":{"[" * depth}1{"]" * depth}}}}}'
    )


# (arrays inside params, the code owed): at the limit it is an ordinary request; past it
# the decoded value is refused (-32600); far past it the decoder itself gives up (-32700).
DEPTHS = [(framing.MAX_DEPTH - 2, None), (framing.MAX_DEPTH - 1, -32600), (900, -32600)]
DEPTHS += [(1_000, -32700), (5_000, -32700), (200_000, -32700)]


def check_depth_answer(answer: dict[str, Any], msg_id: int, code: int | None) -> None:
    assert answer["id"] == msg_id, answer
    if code is None:
        assert answer["result"]["sections"]["session"]["ok"], answer
    else:
        assert answer["error"]["code"] == code, answer
        assert f"deeper than {framing.MAX_DEPTH} levels (the limit)" in answer["error"]["message"]


NOTIFICATION_CASES = [
    ("initialized", {}),
    ("textDocument/didSave", {"textDocument": {"uri": "file:///tmp/x.py"}}),
    ("$/cancelRequest", {"id": 1}),
    ("exit", None),
    ("scribe/sessionChanged", {}),
]


async def test_deep_json_and_notifications_with_an_id_on_stdio(repo: Path) -> None:
    peer = await RawPeer.start(repo)
    try:
        for msg_id, (depth, code) in enumerate(DEPTHS, start=10):
            await peer.send(nested(msg_id, depth))
            check_depth_answer(await peer.answer(msg_id), msg_id, code)
        for msg_id, (method, params) in enumerate(NOTIFICATION_CASES, start=100):
            answer = await peer.request(msg_id, method, params)
            assert answer["error"]["code"] == -32600, answer
            assert f"{method} is a notification; send it without an id" in answer["error"]["message"]
        # scribe/heartbeat may be a request as well as a notification.
        assert "result" in await peer.request(200, "scribe/heartbeat", {})
        # The exit sent with an id did not end the server; every request had one answer.
        assert (await peer.request(201, "scribe/status", {}))["result"]["root"]
        assert peer.stray == [] and peer.proc.returncode is None
        assert "Traceback" not in peer.stderr_text()
    finally:
        assert await peer.close() == 0


async def test_deep_json_and_notifications_with_an_id_over_tcp(repo: Path) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *SERVER, "--tcp", f"127.0.0.1:{port}", "--token", TOKEN, cwd=repo, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        await port_listening(port)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def ask(payload: str | dict[str, Any]) -> Any:
            return await ask_frame(reader, writer, payload)

        init = {"capabilities": {}, "rootUri": repo.as_uri(), "initializationOptions": {"token": TOKEN}}
        assert "result" in await ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        for msg_id, (depth, code) in enumerate(DEPTHS, start=10):
            check_depth_answer(await ask(nested(msg_id, depth)), msg_id, code)
        answer = await ask({"jsonrpc": "2.0", "id": 50, "method": "initialized", "params": {}})
        assert answer["id"] == 50 and answer["error"]["code"] == -32600
        assert "result" in await ask({"jsonrpc": "2.0", "id": 51, "method": "scribe/status", "params": {}})
        writer.close()
    finally:
        server.terminate()
        await server.wait()


async def test_deep_json_and_notifications_with_an_id_over_websocket(repo: Path) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scribe_ls", "serve", "--ws", f"127.0.0.1:{port}", "--token", TOKEN,
        cwd=repo, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await port_listening(port)
        async with connect(f"ws://127.0.0.1:{port}/?token={TOKEN}", max_size=2**24) as ws:

            async def ask(payload: str | dict[str, Any]) -> Any:
                return await ws_ask(ws, payload)

            init = {"capabilities": {}, "rootUri": repo.as_uri()}
            assert "result" in await ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
            for msg_id, (depth, code) in enumerate(DEPTHS, start=10):
                check_depth_answer(await ask(nested(msg_id, depth)), msg_id, code)
            answer = await ask({"jsonrpc": "2.0", "id": 50, "method": "textDocument/didSave", "params": {}})
            assert answer["id"] == 50 and answer["error"]["code"] == -32600
            status = {"jsonrpc": "2.0", "id": 51, "method": "scribe/status", "params": {}}
            assert "result" in await ask(status)
    finally:
        server.terminate()
        await server.wait()


# Pure logic: the depth measure and the decoder's verdicts.


@pytest.mark.parametrize(
    ("text", "depth"),
    [("1", 0), ("[]", 1), ('{"a": [1, {"b": []}]}', 4), ("[[[]], [[[[]]]]]", 5), ('{"a": "[[[[["}', 1)],
)
def test_nesting_depth(text: str, depth: int) -> None:
    assert framing.nesting_depth(json.loads(text)) == depth


def test_decode_body_refuses_past_the_limit_and_keeps_the_value_for_its_id() -> None:
    limit = framing.MAX_DEPTH
    assert framing.decode_body("[" * limit + "]" * limit) is not None
    with pytest.raises(framing.TooDeep) as refused:
        framing.decode_body('{"id": 7, "x": ' + "[" * limit + "]" * limit + "}")
    assert framing.too_deep(refused.value)["id"] == 7
    # Brackets inside strings are text, not nesting.
    assert framing.decode_body(json.dumps({"text": "[" * 10_000})) == {"text": "[" * 10_000}
    with pytest.raises(ValueError, match="the limit"):
        framing.decode_body("[" * 100_000 + "]" * 100_000)


async def test_deep_json_and_notifications_with_an_id_on_the_unix_socket(repo: Path, tmp_path: Path) -> None:
    path = tmp_path / "sock" / "scribe.sock"
    server = await asyncio.create_subprocess_exec(
        *SERVER, "--socket", str(path), cwd=repo, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(200):  # the socket appears when the server is ready
            if path.exists():
                break
            await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_unix_connection(str(path), limit=2**24)

        async def ask(payload: str | dict[str, Any]) -> Any:
            return await ask_frame(reader, writer, payload)

        init = {"capabilities": {}, "rootUri": repo.as_uri()}
        assert "result" in await ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
        for msg_id, (depth, code) in enumerate(DEPTHS, start=10):
            check_depth_answer(await ask(nested(msg_id, depth)), msg_id, code)
        answer = await ask({"jsonrpc": "2.0", "id": 50, "method": "initialized", "params": {}})
        assert answer["id"] == 50 and answer["error"]["code"] == -32600
        writer.close()
    finally:
        server.terminate()
        await server.wait()


async def test_deep_json_and_notifications_with_an_id_on_the_dashboard(repo: Path) -> None:
    server, port = await start_dashboard(repo, TOKEN)
    own = f"127.0.0.1:{port}"
    try:
        async with connect(f"ws://{own}/rpc", origin=f"http://{own}", max_size=2**24) as ws:  # type: ignore[arg-type]

            async def ask(payload: str | dict[str, Any]) -> Any:
                return await ws_ask(ws, payload)

            init = {"capabilities": {}, "initializationOptions": {"token": TOKEN}}
            assert "result" in await ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init})
            for msg_id, (depth, code) in enumerate(DEPTHS, start=10):
                check_depth_answer(await ask(nested(msg_id, depth)), msg_id, code)
            answer = await ask({"jsonrpc": "2.0", "id": 50, "method": "initialized", "params": {}})
            assert answer["id"] == 50 and answer["error"]["code"] == -32600
    finally:
        server.terminate()
        await server.wait()
