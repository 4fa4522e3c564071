"""Raw JSON-RPC frames against a real server process: what a fuzzer or a broken client
sends, byte for byte, and what it gets back."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from scribe_ls.rpc.client import encode_frame, read_frame

from .helpers import SERVER

READ_TIMEOUT = 10.0


def frame(payload: bytes | str | dict[str, Any]) -> bytes:
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return encode_frame(payload)


async def read_message(reader: asyncio.StreamReader, timeout: float = READ_TIMEOUT) -> Any:
    """The next message (frames without a length are skipped)."""
    while True:
        try:
            body = await asyncio.wait_for(read_frame(reader), timeout)
        except ConnectionResetError:
            raise EOFError("the server closed its output") from None
        if body is not None:
            return json.loads(body)


class RawPeer:
    """A server process on stdio, spoken to in raw bytes."""

    def __init__(self, proc: asyncio.subprocess.Process, stderr: Any) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        self.proc = proc
        self._stderr = stderr  # a temp file: a pipe nobody reads could stall the server
        self.stdin = proc.stdin
        self.stdout = proc.stdout
        self.notifications: list[dict[str, Any]] = []
        self.stray: list[Any] = []  # answers that were not the one awaited

    @classmethod
    async def start(
        cls, root: Path, *, initialize: bool = True, env: dict[str, str] | None = None
    ) -> RawPeer:
        stderr = tempfile.TemporaryFile()
        proc = await asyncio.create_subprocess_exec(
            *SERVER,
            cwd=root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, **(env or {})},
            limit=2**24,
        )
        peer = cls(proc, stderr)
        if initialize:
            result = await peer.request(1, "initialize", {"capabilities": {}, "rootUri": root.as_uri()})
            assert "result" in result, result
            await peer.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        return peer

    async def send(self, payload: bytes | str | dict[str, Any], *, raw: bool = False) -> None:
        data = payload if raw and isinstance(payload, bytes) else frame(payload)
        self.stdin.write(data)
        await self.stdin.drain()

    async def next(self, timeout: float = READ_TIMEOUT) -> Any:
        """The next answer (a response or an array of them); notifications are kept aside."""
        while True:
            message = await read_message(self.stdout, timeout)
            if isinstance(message, dict) and "method" in message and "id" not in message:
                self.notifications.append(message)
                continue
            if isinstance(message, dict) and "method" in message:
                # A request from the server (progress token): accept it.
                await self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            return message

    async def answer(self, msg_id: Any, timeout: float = READ_TIMEOUT) -> dict[str, Any]:
        """The answer to ``msg_id``; other answers are kept in ``stray``."""
        while True:
            message = await self.next(timeout)
            if isinstance(message, dict) and message.get("id") == msg_id:
                return message
            self.stray.append(message)

    async def request(self, msg_id: Any, method: str, params: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return await self.answer(msg_id)

    async def close(self) -> int:
        if self.proc.returncode is None:
            try:
                self.stdin.write(frame({"jsonrpc": "2.0", "id": "bye", "method": "shutdown"}))
                self.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
                await self.stdin.drain()
            except (BrokenPipeError, ConnectionResetError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode or 0

    def stderr_text(self) -> str:
        """What the server wrote on stderr so far (its log)."""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")


async def ask(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes | str | dict[str, Any]
) -> Any:
    """Send one frame on a stream connection and read the next message."""
    writer.write(frame(payload))
    await writer.drain()
    return await read_message(reader)


async def ws_ask(ws: Any, payload: str | dict[str, Any]) -> Any:
    """Send one message on a WebSocket and read the next answer (pushes are skipped)."""
    await ws.send(payload if isinstance(payload, str) else json.dumps(payload))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), READ_TIMEOUT))
        if "method" not in reply:
            return reply
