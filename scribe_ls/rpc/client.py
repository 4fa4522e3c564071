"""A small JSON-RPC client for scribe-ls: async, plus a blocking facade for scripts.

```python
async with await ScribeClient.spawn("/path/to/repo") as client:
    session = await client.request("scribe/startSession", {})
    event = await client.next_notification(timeout=1)

with SyncClient.spawn("/path/to/repo") as client:
    client.request("scribe/appendEntry", {"text": "hello"})
```

It frames messages the LSP way (``Content-Length``), answers the few requests a server
may send to a client (progress tokens, configuration) and never imports pygls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future as ThreadFuture
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ScribeError

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
NOTIFICATION_QUEUE = 10_000


def encode_frame(body: bytes) -> bytes:
    """One LSP frame: the ``Content-Length`` header, a blank line, the body."""
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The body of the next frame; None for a header block without a length (skipped by
    the caller). Raises ConnectionResetError when the stream ends."""
    length = None
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionResetError("server closed the connection")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("ascii").partition(":")
        if name.lower() == "content-length":
            length = int(value.strip())
    return None if length is None else await reader.readexactly(length)


def server_command() -> list[str]:
    """How to start the server: the same Python that runs this client."""
    return [sys.executable, "-m", "scribe_ls", "serve"]


class ScribeClient:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        process: asyncio.subprocess.Process | None = None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.process = process
        self._ids = itertools.count(1)
        self._pending: dict[int | str, asyncio.Future[Any]] = {}
        # Bounded: a client that never reads its notifications keeps the newest ones.
        self._notifications: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(NOTIFICATION_QUEUE)
        self._handlers: dict[str, list[Callable[[Any], None]]] = {}
        self._read_task = asyncio.ensure_future(self._read_loop())
        self.initialize_result: dict[str, Any] | None = None

    # -- connecting -------------------------------------------------------------------------

    @classmethod
    async def spawn(
        cls,
        root: str | os.PathLike[str],
        *,
        command: Sequence[str] | None = None,
        initialization_options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        initialize: bool = True,
    ) -> ScribeClient:
        """Start a server process for ``root`` on stdio and (by default) initialize it."""
        process = await asyncio.create_subprocess_exec(
            *(command or server_command()),
            cwd=root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
            limit=2**24,
        )
        assert process.stdout is not None and process.stdin is not None
        client = cls(process.stdout, process.stdin, process)
        if initialize:
            await client.initialize(root, initialization_options)
        return client

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        root: str | os.PathLike[str],
        *,
        token: str,
        initialization_options: Mapping[str, Any] | None = None,
    ) -> ScribeClient:
        """Connect to ``scribe-ls serve --tcp HOST:PORT`` and initialize for ``root``; TCP
        servers want their token (printed at start, or set with ``--token``)."""
        reader, writer = await asyncio.open_connection(host, port, limit=2**24)
        client = cls(reader, writer)
        await client.initialize(root, {**(initialization_options or {}), "token": token})
        return client

    @classmethod
    async def connect_unix(
        cls,
        path: str | os.PathLike[str],
        root: str | os.PathLike[str],
        *,
        initialization_options: Mapping[str, Any] | None = None,
    ) -> ScribeClient:
        """Connect to ``scribe-ls serve --socket PATH`` (no token: the socket is yours only)."""
        reader, writer = await asyncio.open_unix_connection(os.fspath(path), limit=2**24)
        client = cls(reader, writer)
        await client.initialize(root, initialization_options)
        return client

    async def initialize(
        self, root: str | os.PathLike[str], initialization_options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        uri = Path(os.path.abspath(root)).as_uri()  # noqa: ASYNC240 (getcwd only, no disk I/O)
        self.initialize_result = await self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": Path(root).name}],
                "capabilities": {"window": {"workDoneProgress": True}},
                "clientInfo": {"name": "scribe_ls.client"},
                "initializationOptions": dict(initialization_options or {}),
            },
        )
        self.notify("initialized", {})
        return self.initialize_result

    # -- messages ---------------------------------------------------------------------------

    def _send(self, message: dict[str, Any]) -> None:
        # ASCII escapes: any Python string (lone surrogates included) reaches the server.
        body = json.dumps(message).encode("ascii")
        self._writer.write(encode_frame(body))

    async def request(self, method: str, params: Any = None, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Send a request and wait for its result; an error answer raises ScribeError."""
        msg_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)
        await self._writer.drain()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(msg_id, None)

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._send(message)

    def on(self, method: str, handler: Callable[[Any], None]) -> None:
        """Call ``handler(params)`` for every ``method`` notification."""
        self._handlers.setdefault(method, []).append(handler)

    async def next_notification(self, method: str | None = None, *, timeout: float = 5.0) -> Any:
        """The params of the next notification (of ``method``, if given); skips others."""

        async def wait() -> Any:
            while True:
                name, params = await self._notifications.get()
                if method is None or name == method:
                    return params if method is not None else (name, params)

        return await asyncio.wait_for(wait(), timeout)

    def drain_notifications(self) -> list[tuple[str, Any]]:
        drained = []
        while not self._notifications.empty():
            drained.append(self._notifications.get_nowait())
        return drained

    async def _read_loop(self) -> None:
        try:
            while True:
                body = await read_frame(self._reader)
                if body is not None:
                    self._dispatch(json.loads(body))
        except (ConnectionResetError, asyncio.IncompleteReadError, BrokenPipeError) as exc:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionResetError(f"scribe-ls connection closed: {exc}"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            # A request from the server (progress token, configuration): accept it.
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            return
        if "method" in message:
            method, params = message["method"], message.get("params")
            for handler in self._handlers.get(method, ()):
                handler(params)
            if self._notifications.full():
                self._notifications.get_nowait()
            self._notifications.put_nowait((method, params))
            return
        answer_id = message.get("id")
        future = self._pending.get(answer_id) if isinstance(answer_id, int | str) else None
        if future is None or future.done():
            return
        if "error" in message:
            error = message["error"]
            future.set_exception(
                ScribeError(error.get("code", -32603), error.get("message", ""), error.get("data"))
            )
        else:
            future.set_result(message.get("result"))

    # -- closing ----------------------------------------------------------------------------

    async def close(self, *, timeout: float = 10.0) -> int | None:
        """``shutdown`` + ``exit``; returns the server's exit code when we started it."""
        with contextlib.suppress(Exception):
            await self.request("shutdown", timeout=timeout)
            self.notify("exit")
            await self._writer.drain()
        if self.process is not None:
            try:
                return await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                return await self.process.wait()
        self._writer.close()
        self._read_task.cancel()
        return None

    async def __aenter__(self) -> ScribeClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class SyncClient:
    """Blocking facade: runs a :class:`ScribeClient` on an event loop in a daemon thread."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="scribe-client", daemon=True)
        self._thread.start()
        self._client: ScribeClient = self._wait(connect())

    @classmethod
    def spawn(cls, root: str | os.PathLike[str], **kwargs: Any) -> SyncClient:
        return cls(lambda: ScribeClient.spawn(root, **kwargs))

    @classmethod
    def connect(cls, host: str, port: int, root: str | os.PathLike[str], **kwargs: Any) -> SyncClient:
        return cls(lambda: ScribeClient.connect(host, port, root, **kwargs))

    def _wait(self, coro: Any, timeout: float | None = None) -> Any:
        future: ThreadFuture[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def request(self, method: str, params: Any = None, *, timeout: float = DEFAULT_TIMEOUT) -> Any:
        return self._wait(self._client.request(method, params, timeout=timeout))

    def next_notification(self, method: str | None = None, *, timeout: float = 5.0) -> Any:
        return self._wait(self._client.next_notification(method, timeout=timeout))

    def drain_notifications(self) -> list[tuple[str, Any]]:
        async def drain() -> list[tuple[str, Any]]:  # on the client's loop, not this thread
            return self._client.drain_notifications()

        return self._wait(drain())

    @property
    def initialize_result(self) -> dict[str, Any] | None:
        return self._client.initialize_result

    def close(self) -> int | None:
        try:
            return self._wait(self._client.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
