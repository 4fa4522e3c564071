"""The listening transports: TCP and a Unix socket (any number of clients, TCP with a
token), WebSocket (token and Origin checked). stdio, one client, is :mod:`.stdio`.

Each connection gets its own :class:`~scribe_ls.rpc.server.ScribeLanguageServer` over the
hub's shared service per root. Output goes through
:class:`~scribe_ls.rpc.connection.BoundedWriter` (a client that stops reading is cut off,
never buffered without end); input through our frame reader. SIGTERM and SIGINT end a
server cleanly, flushing what is pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from ..logs import BurstLog
from ..userdirs import prepare_socket_dir, runtime_dir
from . import framing
from .connection import BoundedWriter, read_frames, unread_output_limit
from .hub import ServiceHub, close_within
from .server import ScribeLanguageServer

log = logging.getLogger(__name__)


_HTTP_METHODS = tuple(
    f"{method} ".encode()
    for method in ("GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "PATCH", "CONNECT", "TRACE", "PRI")
)
_HTTP_BODY = b"scribe-ls speaks JSON-RPC here, not HTTP.\n"
_HTTP_REFUSAL = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_HTTP_BODY), _HTTP_BODY)
)


class _LooksLikeHttp(Exception):
    pass


# Before a TCP client has presented the token (initialize), it is anyone on the machine:
# it gets LOGIN_DEADLINE seconds, frames of at most PRE_LOGIN_MAX_BYTES, and at most
# MAX_PENDING_LOGINS such connections are open at once: a new one closes the oldest waiting
# (a real client logs in within milliseconds), so clients that never log in cannot hold
# memory or descriptors, nor keep the real ones out.
LOGIN_DEADLINE = 10.0
PRE_LOGIN_MAX_BYTES = 256 * 1024
MAX_PENDING_LOGINS = 32


def _stream_connection(
    hub: ServiceHub, *, token: str | None, max_message_bytes: int, allowed_roots: Sequence[Path] | None = None
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
    """A TCP or Unix-socket connection handler: one pygls server object per connection.
    With a token (TCP), a connection is bounded until it has logged in (see LOGIN_DEADLINE)."""
    # This listener's open TCP connections, oldest first, with the event that closes each.
    guarded_servers: dict[ScribeLanguageServer, asyncio.Event] = {}
    crowded = BurstLog(
        log, f"closed the oldest connection waiting to log in ({MAX_PENDING_LOGINS} were waiting)"
    )
    late = BurstLog(log, f"closed connections that did not log in within {LOGIN_DEADLINE:.0f} s")

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        guarded = token is not None
        waiting = [other for other in guarded_servers if other.service is None]
        if guarded and len(waiting) >= MAX_PENDING_LOGINS:
            crowded.event()
            guarded_servers.pop(waiting[0]).set()  # out of the count at once, closing
        done = asyncio.Event()
        server = ScribeLanguageServer(
            hub, on_exit=lambda code: done.set(), token=token, allowed_roots=allowed_roots
        )
        limit = unread_output_limit(max_message_bytes)
        server.protocol.set_writer(BoundedWriter(writer.transport, limit, server.close_connection))
        first = True
        frames = framing.FrameReader(lambda n: read(n), PRE_LOGIN_MAX_BYTES if guarded else max_message_bytes)

        async def read(n: int) -> bytes:
            nonlocal first
            if frames.max_bytes != max_message_bytes and server.service is not None:
                frames.max_bytes = max_message_bytes  # logged in: the full message size
            data = await reader.read(n)
            if first and data:
                first = False
                # A browser's fetch() or curl: HTTP is never JSON-RPC here. Answer and close
                # before anything of it is parsed.
                if data.lstrip().upper().startswith(_HTTP_METHODS):
                    raise _LooksLikeHttp
            return data

        async def login_deadline() -> None:
            await asyncio.sleep(LOGIN_DEADLINE)
            if server.service is None:
                late.event()
                done.set()

        if guarded:
            guarded_servers[server] = done
        loop_task = asyncio.ensure_future(read_frames(frames, server))
        exit_task = asyncio.ensure_future(done.wait())
        deadline_task = asyncio.ensure_future(login_deadline() if guarded else asyncio.sleep(0))
        try:
            await asyncio.wait({loop_task, exit_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            guarded_servers.pop(server, None)
        if (
            loop_task.done()
            and not loop_task.cancelled()
            and isinstance(loop_task.exception(), _LooksLikeHttp)
        ):
            log.warning("refused an HTTP request on the JSON-RPC port")
            writer.write(_HTTP_REFUSAL)
        for task in (loop_task, exit_task, deadline_task):
            task.cancel()
        await server.detach()
        try:
            await asyncio.wait_for(writer.drain(), 2)
        except (OSError, TimeoutError):
            pass
        writer.close()

    return connection


def serve_tcp(
    host: str,
    port: int,
    *,
    token: str,
    max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES,
    allowed_roots: Sequence[Path] | None = None,
) -> int:
    """Serve any number of clients on ``host:port``; ``exit`` closes only that connection.

    Any local user (and any web page, through the browser) can reach a TCP port, so every
    client must present the token in ``initialize``, within LOGIN_DEADLINE, and may open
    only ``allowed_roots`` (None: any); anything that looks like HTTP is answered with a
    400 and closed."""

    async def main() -> None:
        hub = ServiceHub()
        handler = _stream_connection(
            hub, token=token, max_message_bytes=max_message_bytes, allowed_roots=allowed_roots
        )
        tcp = await asyncio.start_server(handler, host, port, limit=framing.READ_CHUNK)
        log.info("serving JSON-RPC on tcp://%s:%d (token required)", host, tcp.sockets[0].getsockname()[1])
        async with tcp:
            await until_stopped(hub)

    return run_and_exit(main())


def default_socket_path() -> Path:
    """``$XDG_RUNTIME_DIR/scribe-ls/scribe.sock``, else ``/tmp/scribe-ls-<uid>/scribe.sock``."""
    return runtime_dir() / "scribe.sock"


def serve_unix(path: Path, *, max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES) -> int:
    """Serve any number of clients on a Unix socket (0600 in a 0700 directory): the
    preferred local channel, since only this user can connect and no token is needed."""

    prepare_socket_dir(path)  # before the loop: a refusal is the caller's one-line error

    async def main() -> None:
        hub = ServiceHub()
        handler = _stream_connection(hub, token=None, max_message_bytes=max_message_bytes)
        old_umask = os.umask(0o177)
        try:
            unix = await asyncio.start_unix_server(handler, path, limit=framing.READ_CHUNK)
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        log.info("serving JSON-RPC on unix:%s", path)
        try:
            async with unix:
                await until_stopped(hub)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    return run_and_exit(main())


async def until_stopped(hub: ServiceHub) -> None:
    """Serve until SIGINT or SIGTERM, then close the services (flushing pending activity),
    bounded in time."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping: closing services")
    await close_within(hub)


def run_and_exit(main: Coroutine[Any, Any, None]) -> int:
    asyncio.run(main)
    # The services are closed; do not wait for watcher or lease threads still parked in a
    # blocking call (that wait is what made a stopped server linger).
    logging.shutdown()
    os._exit(0)


class _TextWebSocketWriter:
    """pygls writes bytes; browsers and dashboards expect JSON in text frames."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws

    def write(self, data: bytes) -> Any:
        return self._ws.send(data.decode("utf-8"))

    def close(self) -> Any:
        return self._ws.close()


def ws_connection(
    hub: ServiceHub,
    *,
    token: str | None = None,
    root: Path | None = None,
    allowed_roots: Sequence[Path] | None = None,
) -> Callable[[Any], Coroutine[Any, Any, None]]:
    """A WebSocket connection handler: one pygls server object per connection, JSON in
    text frames. ``token``: initialize must carry it; ``root``: the one repository served;
    ``allowed_roots``: the repositories a client may name (None: any)."""

    # With a token in initialize (the dashboard's page), a connection is anyone's until it
    # logs in: bounded as TCP's are (LOGIN_DEADLINE, MAX_PENDING_LOGINS, the oldest out).
    waiting: dict[ScribeLanguageServer, Any] = {}
    closing: set[asyncio.Future[Any]] = set()  # closes under way (a reference keeps each alive)
    crowded = BurstLog(
        log, f"closed the oldest WebSocket waiting to log in ({MAX_PENDING_LOGINS} were waiting)"
    )
    late = BurstLog(log, f"closed WebSockets that did not log in within {LOGIN_DEADLINE:.0f} s")

    async def connection(ws: Any) -> None:
        hub_server = ScribeLanguageServer(
            hub,
            on_exit=lambda code: asyncio.ensure_future(ws.close()),
            token=token,
            root=root,
            allowed_roots=allowed_roots,
        )
        hub_server.protocol.set_writer(_TextWebSocketWriter(ws), include_headers=False)
        deadline: asyncio.Future[Any] | None = None
        if token is not None:
            pending = [other for other in waiting if other.service is None]
            if len(pending) >= MAX_PENDING_LOGINS:
                crowded.event()
                task = asyncio.ensure_future(waiting.pop(pending[0]).close())
                closing.add(task)
                task.add_done_callback(closing.discard)
            waiting[hub_server] = ws

            async def login_deadline() -> None:
                await asyncio.sleep(LOGIN_DEADLINE)
                if hub_server.service is None:
                    late.event()
                    await ws.close()

            deadline = asyncio.ensure_future(login_deadline())
        try:
            async for data in ws:
                await hub_server.room.wait()  # backpressure, as for stdio and TCP
                hub_server.protocol.receive(data)
        finally:
            waiting.pop(hub_server, None)
            if deadline is not None:
                deadline.cancel()
            await hub_server.detach()

    return connection


def serve_ws(
    host: str,
    port: int,
    *,
    token: str,
    origins: Sequence[str] = (),
    max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES,
    allowed_roots: Sequence[Path] | None = None,
) -> int:
    """Serve JSON-RPC over WebSocket to any number of clients over one shared service.

    Any web page can open a WebSocket to localhost, so every connection must present the
    token (``?token=`` in the URL or ``Authorization: Bearer``) and, if it comes from a
    browser, an allowed ``Origin``; clients that send no Origin (scripts, tools) pass.
    """
    from http import HTTPStatus
    from urllib.parse import parse_qs, urlsplit

    from websockets.asyncio.server import ServerConnection, serve
    from websockets.typing import Origin

    def check_token(connection: ServerConnection, request: Any) -> Any:
        supplied = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        auth = request.headers.get("Authorization", "")
        if not supplied and auth.lower().startswith("bearer "):
            supplied = auth[7:].strip()
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            log.warning("refused a WebSocket connection without the right token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "scribe-ls: missing or wrong token\n")
        return None

    hub = ServiceHub()
    connection = ws_connection(hub, allowed_roots=allowed_roots)

    async def main() -> None:
        allowed: list[Origin | None] = [None, *(Origin(origin) for origin in origins)]
        async with serve(
            connection, host, port, origins=allowed, process_request=check_token, max_size=max_message_bytes
        ) as ws_server:
            bound = next(iter(ws_server.sockets)).getsockname()[1]
            log.info(
                "serving JSON-RPC on ws://%s:%d (origins allowed: %s)", host, bound, list(origins) or "none"
            )
            await until_stopped(hub)

    return run_and_exit(main())
