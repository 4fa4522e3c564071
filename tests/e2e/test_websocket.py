"""The WebSocket transport: token, Origin, several clients over one service."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from .helpers import free_port

pytestmark = pytest.mark.timeout(60)

TOKEN = "test-token-123"


@pytest.fixture
async def ws_server(repo: Path) -> AsyncIterator[int]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "scribe_ls",
        "serve",
        "--ws",
        f"127.0.0.1:{port}",
        "--token",
        TOKEN,
        "--allow-origin",
        "http://localhost:5173",
        cwd=repo,
    )
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield port
    proc.terminate()
    await proc.wait()


class Peer:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ids = 0
        self.notifications: list[tuple[str, Any]] = []

    async def request(self, method: str, params: Any = None) -> Any:
        self.ids += 1
        message = {"jsonrpc": "2.0", "id": self.ids, "method": method}
        if params is not None:
            message["params"] = params
        await self.ws.send(json.dumps(message))
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), 10)
            assert isinstance(raw, str), "JSON-RPC goes in text frames"
            reply = json.loads(raw)
            if reply.get("id") == self.ids and "method" not in reply:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply["result"]
            self.notifications.append((reply.get("method"), reply.get("params")))

    async def notification(self, method: str, timeout: float = 5) -> Any:
        async def wait() -> Any:
            while True:
                for index, (name, params) in enumerate(self.notifications):
                    if name == method:
                        del self.notifications[index]
                        return params
                reply = json.loads(await self.ws.recv())
                if "method" in reply:
                    self.notifications.append((reply["method"], reply.get("params")))

        return await asyncio.wait_for(wait(), timeout)


async def initialized(port: int, repo: Path, **kwargs: Any) -> Peer:
    ws = await connect(f"ws://127.0.0.1:{port}/?token={TOKEN}", **kwargs)
    peer = Peer(ws)
    await peer.request("initialize", {"capabilities": {}, "rootUri": repo.as_uri()})
    await peer.ws.send(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
    return peer


async def test_missing_or_wrong_token_is_refused(ws_server: int) -> None:
    for url in (f"ws://127.0.0.1:{ws_server}/", f"ws://127.0.0.1:{ws_server}/?token=wrong"):
        with pytest.raises(InvalidStatus) as info:
            await connect(url)
        assert info.value.response.status_code == 401


async def test_foreign_origin_is_refused(ws_server: int, repo: Path) -> None:
    with pytest.raises(InvalidStatus) as info:
        await connect(f"ws://127.0.0.1:{ws_server}/?token={TOKEN}", origin="https://evil.example")
    assert info.value.response.status_code == 403
    allowed = await initialized(ws_server, repo, origin="http://localhost:5173")
    assert (await allowed.request("scribe/status"))["root"] == str(repo)
    await allowed.ws.close()


async def test_clients_share_one_service(ws_server: int, repo: Path) -> None:
    first = await initialized(ws_server, repo)
    second = await initialized(ws_server, repo, additional_headers={"Authorization": f"Bearer {TOKEN}"})
    session = await first.request("scribe/startSession", {})
    assert session["backlogId"] == "B-4242"
    changed = await second.notification("scribe/sessionChanged")
    assert changed["session"]["id"] == session["id"]
    await second.request("scribe/appendEntry", {"text": "over the socket"})
    while (await first.notification("scribe/entryAdded"))["entry"]["text"] != "over the socket":
        pass
    await first.ws.close()  # one client leaving does not stop the server for the other
    assert (await second.request("scribe/status"))["sessions"]["active"] == 1
    await second.ws.close()
