"""JSON-RPC wiring: pygls in, :class:`~scribe_ls.service.Scribe` calls out. No logic here.

Every ``scribe/*`` method is registered twice, as a request and as a
``workspace/executeCommand`` command (``scribe.startSession``), both going to
``Scribe.handle``. Service notifications become pushes to this connection's client.

Transports: stdio (one client, the process ends with it), TCP and WebSocket (any number
of clients, each with its own pygls server object over one shared ``Scribe`` per root).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage
from pygls.uris import to_fs_path

from . import framing
from ._version import __version__
from .errors import ScribeError
from .layout import find_repo_root
from .protocol import (
    PROGRESS_TITLES,
    REQUESTS,
    SHOW_MESSAGE,
    Capabilities,
    InitOptions,
    Notification,
    command_name,
)
from .service import Scribe

log = logging.getLogger(__name__)

SERVER_NOT_INITIALIZED = -32002
INTERNAL_ERROR = -32603
UNAUTHORIZED = -32014
# Requests of one connection being handled at once; past this we stop reading its input,
# so a client that floods us is slowed down instead of growing our memory.
MAX_IN_FLIGHT = 64


class _NoDeserializeTraceback(logging.Filter):
    """pygls logs a whole traceback for params it cannot structure; that is a client's
    mistake, answered -32602 and logged in one line by ScribeProtocol instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Unable to deserialize message")


logging.getLogger("pygls.protocol.json_rpc").addFilter(_NoDeserializeTraceback())


class ScribeRpcError(JsonRpcException):
    """A :class:`ScribeError` on its way to the client: an expected answer, not a crash."""


@attrs.define
class _UnreadableRequest:
    """A request pygls could not structure; we still owe the client an answer."""

    id: Any
    method: str
    jsonrpc: str
    problem: str


def _keep_params_as_json(obj: dict[str, Any], cls: type) -> Any:
    # pygls turns untyped params into namedtuples; we validate plain JSON ourselves.
    return cls(**obj)


def converter_factory() -> Any:
    converter = default_converter()
    converter.register_structure_hook(JsonRPCRequestMessage, _keep_params_as_json)
    converter.register_structure_hook(JsonRPCNotification, _keep_params_as_json)
    return converter


class ScribeProtocol(LanguageServerProtocol):
    """pygls's protocol with three repairs:

    - a request without a ``params`` member (legal JSON-RPC; Neovim and vscode-jsonrpc
      send it) gets ``params: null`` instead of being dropped unanswered (pygls 2.1.1);
    - a request that cannot be structured at all is answered with -32602 instead of
      silence, so no client ever waits forever;
    - ``initialize`` advertises ``capabilities.experimental.scribe``.
    """

    _server: ScribeLanguageServer

    def structure_message(self, data: dict[str, Any]) -> Any:
        is_message = "jsonrpc" in data and "method" in data
        if is_message and "params" not in data:
            data["params"] = None
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            cause = str(exc.__cause__ or exc).splitlines()[0]
            log.warning("cannot read the params of %s: %s", str(data.get("method"))[:80], cause)
            if is_message and "id" in data:
                return _UnreadableRequest(data["id"], str(data["method"]), "2.0", cause)
            raise

    def receive(self, body: bytes | str) -> None:
        """One frame's body (or one WebSocket message): parse it as plain JSON (nested
        objects stay data, whatever keys they hold), check the envelope, dispatch."""
        try:
            data = framing.decode_body(body)
        except ValueError as exc:  # also UnicodeDecodeError
            raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
            log.warning("unreadable message (%d bytes): %s", len(raw), str(exc).splitlines()[0][:200])
            self._send_data(framing.parse_error(raw, "the body is not valid UTF-8 JSON"))
            return
        verdict = framing.check_envelope(data, shutting_down=self._shutdown)
        for answer in verdict.answers:
            self._send_data(answer)
        if verdict.message is None:
            return
        try:
            message = self.structure_message(verdict.message)
        except JsonRpcException as exc:
            log.warning("unreadable %s notification: %s", verdict.message.get("method"), exc)
            return
        self.handle_message(message)

    def send_payload(self, payload: Any) -> None:
        """Send a JSON value (an answer this module built) as one message."""
        self._send_data(payload)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _UnreadableRequest):
            error = JsonRpcInvalidParams(f"params: cannot read {message.method} params: {message.problem}")
            self._send_response(message.id, None, error.to_response_error())
            return
        super().handle_message(message)

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        try:
            self._answer(future, msg_id)
        finally:
            if self._server.close_after_answer:
                self._server.close_connection()

    def _answer(self, future: Future[Any], msg_id: Any) -> None:
        error = None if future.cancelled() else future.exception()
        if error is None:
            super()._send_handler_result(future, msg_id=msg_id)
            return
        self._request_futures.pop(msg_id, None)
        if isinstance(error, ScribeRpcError):
            # Expected answers (invalid params, no session...): no traceback in the log.
            self._send_response(msg_id, error=error.to_response_error())
        elif isinstance(error, JsonRpcException) and error.code != INTERNAL_ERROR:
            self._send_response(msg_id, error=error.to_response_error())
        else:
            # A bug or an unexpected failure: the traceback goes to the log, never to the
            # client (it holds file paths and code).
            log.error("request %r failed", msg_id, exc_info=error)
            self._send_response(
                msg_id,
                error=types.ResponseError(
                    INTERNAL_ERROR, "internal error: the request failed; the server log has the details"
                ),
            )

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        # pygls raises SystemExit from a callback here, which skips our clean-up and, on
        # stdio, leaves the interpreter waiting on the blocked stdin reader thread. Our
        # exit handler closes the connection (and on stdio, the process) itself.
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        result = yield from super().lsp_initialize(params)
        result.capabilities.experimental = {Capabilities.KEY: Capabilities(REQUESTS).to_wire()}
        return result


class BoundedWriter:
    """Where pygls writes its messages: an asyncio transport, so a client that is slow to
    read never blocks the event loop (recording, other clients and timers go on). Nor can it
    grow our memory without bound: once ``limit`` bytes wait unread, the connection is
    closed."""

    def __init__(self, transport: asyncio.WriteTransport, limit: int, on_overflow: Callable[[], Any]) -> None:
        self._transport = transport
        self._limit = limit
        self._on_overflow = on_overflow
        self._overflowed = False

    def write(self, data: bytes) -> None:
        if self._transport.is_closing():
            return
        self._transport.write(data)
        waiting = self._transport.get_write_buffer_size()
        if waiting > self._limit and not self._overflowed:
            self._overflowed = True
            log.error("the client left %d bytes of answers unread; closing the connection", waiting)
            self._on_overflow()

    def close(self) -> None:
        self._transport.close()

    async def drain(self, seconds: float) -> None:
        """Wait (bounded) until what was written has left, before the process exits."""
        for _ in range(int(seconds / 0.01)):  # a transport has no "drained" event to await
            if not self._transport.get_write_buffer_size():
                return
            await asyncio.sleep(0.01)


def unread_output_limit(max_message_bytes: int) -> int:
    """How much unread output a connection may leave before it is closed."""
    return 4 * max_message_bytes


async def read_frames(reader: framing.FrameReader, server: ScribeLanguageServer) -> None:
    """Feed framed bodies to the protocol until the input ends. A connection with
    MAX_IN_FLIGHT requests running is not read further (backpressure)."""
    while True:
        await server.room.wait()
        try:
            body = await reader.next_body()
        except framing.MessageTooLarge as exc:
            log.error("closing a connection: %s", exc)
            server.protocol.send_payload(
                framing.error_response(None, framing.INVALID_REQUEST, f"invalid request: {exc}; closing")
            )
            return
        if body is None:
            log.info("the client closed its end of the connection")
            return
        try:
            server.protocol.receive(body)
        except Exception:  # one message must never end the connection
            log.exception("handling a message failed")


class ServiceHub:
    """One shared, open :class:`Scribe` per repository root, counted by connection."""

    def __init__(self) -> None:
        self._services: dict[Path, tuple[Scribe, int]] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, root: Path) -> Scribe:
        repo = find_repo_root(root)
        async with self._lock:
            service, users = self._services.get(repo, (None, 0))
            if service is None:
                # Each repository's own config (not the server's working directory's).
                service = await Scribe(repo, relay=True, record=True).open()
            self._services[repo] = (service, users + 1)
            return service

    async def release(self, service: Scribe) -> None:
        async with self._lock:
            current, users = self._services.get(service.root, (None, 0))
            if current is not service:
                return
            if users <= 1:
                del self._services[service.root]
                await service.close()
            else:
                self._services[service.root] = (service, users - 1)

    async def close_all(self) -> None:
        async with self._lock:
            services = [service for service, _ in self._services.values()]
            self._services.clear()
        for service in services:
            await service.close()


class ScribeLanguageServer(LanguageServer):
    """One client connection."""

    def __init__(self, hub: ServiceHub, *, on_exit: Callable[[int], Any], token: str | None = None) -> None:
        super().__init__(
            name="scribe-ls",
            version=__version__,
            protocol_cls=ScribeProtocol,
            converter_factory=converter_factory,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
        )
        self.hub = hub
        self.service: Scribe | None = None
        self.notifications_enabled = True
        self._on_exit = on_exit
        # A transport anyone on the machine can reach (TCP) sets a token: initialize must
        # carry it as initializationOptions.token, or the connection is closed.
        self._token = token
        self.close_after_answer = False
        self.exit_task: asyncio.Future[None] | None = None
        self._remove_listener: Callable[[], None] | None = None
        self._shutdown_requested = False
        self.in_flight = 0
        self.room = asyncio.Event()  # set while fewer than MAX_IN_FLIGHT requests run
        self.room.set()
        register_features(self)

    async def call(self, method: str, params: Any) -> Any:
        if self.service is None:
            raise ScribeRpcError("server not initialized: send initialize first", SERVER_NOT_INITIALIZED)
        self.in_flight += 1
        if self.in_flight >= MAX_IN_FLIGHT:
            self.room.clear()
        token = _offered_token(method, params)
        try:
            if token is None:
                return await self.service.handle(method, params)
            return await self._with_progress(token, PROGRESS_TITLES[method], method, params)
        except ScribeError as exc:
            raise ScribeRpcError(exc.message, exc.code, exc.data) from None
        finally:
            self.in_flight -= 1
            if self.in_flight < MAX_IN_FLIGHT:
                self.room.set()

    async def _with_progress(self, token: str | int, title: str, method: str, params: Any) -> Any:
        """``$/progress`` begin, a report per step the service names, end (also on failure)."""
        assert self.service is not None
        progress = self.work_done_progress
        progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0, cancellable=False))

        def report(message: str, percentage: int) -> None:
            progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

        outcome = "failed"
        try:
            result = await self.service.handle(method, params, report)
            outcome = "done"
            return result
        finally:
            progress.end(token, types.WorkDoneProgressEnd(message=outcome))
            progress.tokens.pop(token, None)  # pygls keeps client tokens forever otherwise

    def push(self, event: Notification) -> None:
        if event.method == SHOW_MESSAGE:
            # A problem to show reaches even a client that silenced pushes.
            self.show_message(event.params["type"], event.params["message"])
        elif self.notifications_enabled:
            self.protocol.notify(event.method, event.params)

    def show_message(self, level: int, message: str) -> None:
        # pygls types LSP's own notifications: its params must be the lsprotocol class.
        self.protocol.notify(SHOW_MESSAGE, types.ShowMessageParams(types.MessageType(level), message))

    def close_connection(self) -> None:
        self._on_exit(1)  # every transport's on_exit only schedules the close

    def _check_token(self, options: Any) -> None:
        if self._token is None:
            return
        supplied = options.get("token") if isinstance(options, dict) else None
        if not isinstance(supplied, str) or not hmac.compare_digest(supplied.encode(), self._token.encode()):
            log.warning("refused a connection without the right token")
            self.close_after_answer = True
            raise ScribeRpcError(
                "initializationOptions.token: missing or wrong token (printed by the server at start,"
                " or set with --token / SCRIBE_LS_TOKEN); closing the connection",
                UNAUTHORIZED,
            )

    async def attach(self, params: types.InitializeParams) -> None:
        # The token first: nothing of a refused client's request is looked at.
        self._check_token(params.initialization_options)
        try:
            options = InitOptions.from_wire(params.initialization_options)
        except ScribeError as exc:
            raise ScribeRpcError(exc.message, exc.code, exc.data) from None
        self.notifications_enabled = options.notifications
        root = pick_root(params, options)
        if not root.is_dir():
            raise ScribeRpcError(f"rootUri: {root} is not a directory", -32602)
        try:
            self.service = await self.hub.acquire(root)
        except ScribeError as exc:
            raise ScribeRpcError(exc.message, exc.code, exc.data) from None
        self._remove_listener = self.service.add_listener(self.push)
        log.info("client %s attached to %s", params.client_info, self.service.root)
        for level, message in self.service.notices:
            # LSP allows showMessage while initialize is being answered.
            self.show_message(level, message)

    async def detach(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self.service is not None:
            service, self.service = self.service, None
            await self.hub.release(service)

    async def exit(self) -> None:
        try:
            await self.detach()
        except Exception:
            log.exception("closing the service on exit failed")
        finally:
            # Whatever failed, the client asked to go: the connection ends.
            await _maybe_await(self._on_exit(0 if self._shutdown_requested else 1))


def _offered_token(method: str, params: Any) -> str | int | None:
    """The ``workDoneToken`` of a request that reports progress, if the client offered a
    valid one (an invalid one is the service's -32602 to give)."""
    if method not in PROGRESS_TITLES or not isinstance(params, dict):
        return None
    token = params.get("workDoneToken")
    valid = isinstance(token, str) or (isinstance(token, int) and not isinstance(token, bool))
    return token if valid else None


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value


def pick_root(params: types.InitializeParams, options: InitOptions) -> Path:
    """First workspace folder, else rootUri, else rootPath, else initializationOptions.root,
    else the server's working directory."""
    if params.workspace_folders:
        return Path(to_fs_path(params.workspace_folders[0].uri) or ".")
    if params.root_uri:
        return Path(to_fs_path(params.root_uri) or ".")
    if params.root_path:
        return Path(params.root_path)
    if options.root:
        return Path(options.root)
    return Path.cwd()


def register_features(server: ScribeLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    async def initialize(ls: ScribeLanguageServer, params: types.InitializeParams) -> None:
        await ls.attach(params)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ScribeLanguageServer, params: Any) -> None:
        ls._shutdown_requested = True

    @server.feature(types.EXIT)
    async def exit_(ls: ScribeLanguageServer, params: Any) -> None:
        # Not awaited here: pygls's shutdown cancels every handler still running, and an
        # exit that arrives right behind shutdown would be cancelled half-way.
        ls.exit_task = asyncio.ensure_future(ls.exit())

    for method in REQUESTS:
        _register_method(server, method)


def _register_method(server: ScribeLanguageServer, method: str) -> None:
    async def request(ls: ScribeLanguageServer, params: Any) -> Any:
        return await ls.call(method, params)

    async def command(ls: ScribeLanguageServer, *arguments: Any) -> Any:
        if len(arguments) > 1:
            raise ScribeRpcError(
                f"arguments: {command_name(method)} takes one params object, got {len(arguments)} arguments",
                -32602,
            )
        return await ls.call(method, arguments[0] if arguments else None)

    server.feature(method)(request)
    server.command(command_name(method))(command)


# -- transports ---------------------------------------------------------------------------


def serve_stdio(*, max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES) -> int:
    """Serve one client on stdin/stdout until it sends ``exit``, closes the pipe, or the
    process gets SIGTERM/SIGINT; pending work is flushed in every case."""
    from concurrent.futures import ThreadPoolExecutor

    async def main() -> int:
        hub = ServiceHub()
        loop = asyncio.get_running_loop()
        exit_code: asyncio.Future[int] = loop.create_future()

        def on_exit(code: int) -> None:
            if not exit_code.done():
                exit_code.set_result(code)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_exit, 128 + signum)
        server = ScribeLanguageServer(hub, on_exit=on_exit)
        writer: BoundedWriter | None = None
        try:
            transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
            writer = BoundedWriter(transport, unread_output_limit(max_message_bytes), server.close_connection)
            server.protocol.set_writer(writer)
        except ValueError:
            # stdout is a regular file (output redirected): a plain write cannot block on it.
            server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
        # One thread blocks in read1(); it may still be blocked there when we exit.
        stdin_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-stdin")
        stdin = sys.stdin.buffer

        def read(n: int) -> Any:
            return loop.run_in_executor(stdin_thread, stdin.read1, n)

        loop_task = asyncio.ensure_future(read_frames(framing.FrameReader(read, max_message_bytes), server))
        await asyncio.wait({loop_task, exit_code}, return_when=asyncio.FIRST_COMPLETED)
        if loop_task.done() and not loop_task.cancelled() and (failure := loop_task.exception()):
            log.error("reading stdin failed: %r", failure)
        loop_task.cancel()
        await _close_within(hub, detach=server.detach())
        if writer is not None:
            await writer.drain(5)
        if exit_code.done():
            return exit_code.result()
        # The client closed stdin without `exit`: that is how editors usually die.
        return 0 if server._shutdown_requested else 1

    code = asyncio.run(main())
    with contextlib.suppress(ValueError, OSError):  # the pipe transport may have closed it
        sys.stdout.flush()
    logging.shutdown()
    # The stdin reader thread may still be blocked in read(); do not wait for it.
    os._exit(code)


async def _close_within(
    hub: ServiceHub, *, detach: Coroutine[Any, Any, None] | None = None, seconds: float = 10
) -> None:
    """Detach a client (if given) and close the services (flushing pending activity,
    releasing the recorder lease), bounded in time."""
    try:
        if detach is not None:
            await asyncio.wait_for(detach, seconds)
        await asyncio.wait_for(hub.close_all(), seconds)
    except TimeoutError:
        log.warning("services did not close within %.0f s", seconds)


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


def _stream_connection(
    hub: ServiceHub, *, token: str | None, max_message_bytes: int
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]:
    """A TCP or Unix-socket connection handler: one pygls server object per connection."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        done = asyncio.Event()
        server = ScribeLanguageServer(hub, on_exit=lambda code: done.set(), token=token)
        limit = unread_output_limit(max_message_bytes)
        server.protocol.set_writer(BoundedWriter(writer.transport, limit, server.close_connection))  # type: ignore[arg-type]
        first = True

        async def read(n: int) -> bytes:
            nonlocal first
            data = await reader.read(n)
            if first and data:
                first = False
                # A browser's fetch() or curl: HTTP is never JSON-RPC here. Answer and close
                # before anything of it is parsed.
                if data.lstrip().upper().startswith(_HTTP_METHODS):
                    raise _LooksLikeHttp
            return data

        loop_task = asyncio.ensure_future(read_frames(framing.FrameReader(read, max_message_bytes), server))
        exit_task = asyncio.ensure_future(done.wait())
        await asyncio.wait({loop_task, exit_task}, return_when=asyncio.FIRST_COMPLETED)
        if (
            loop_task.done()
            and not loop_task.cancelled()
            and isinstance(loop_task.exception(), _LooksLikeHttp)
        ):
            log.warning("refused an HTTP request on the JSON-RPC port")
            writer.write(_HTTP_REFUSAL)
        for task in (loop_task, exit_task):
            task.cancel()
        await server.detach()
        try:
            await asyncio.wait_for(writer.drain(), 2)
        except (OSError, TimeoutError):
            pass
        writer.close()

    return connection


def serve_tcp(
    host: str, port: int, *, token: str, max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES
) -> int:
    """Serve any number of clients on ``host:port``; ``exit`` closes only that connection.

    Any local user (and any web page, through the browser) can reach a TCP port, so every
    client must present the token in ``initialize``; anything that looks like HTTP is
    answered with a 400 and closed."""

    async def main() -> None:
        hub = ServiceHub()
        handler = _stream_connection(hub, token=token, max_message_bytes=max_message_bytes)
        tcp = await asyncio.start_server(handler, host, port, limit=framing.READ_CHUNK)
        log.info("serving JSON-RPC on tcp://%s:%d (token required)", host, tcp.sockets[0].getsockname()[1])
        async with tcp:
            await _until_stopped(hub)

    return _run_and_exit(main())


def default_socket_path() -> Path:
    """``$XDG_RUNTIME_DIR/scribe-ls/scribe.sock``, else ``/tmp/scribe-ls-<uid>/scribe.sock``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "scribe-ls" if runtime else Path(f"/tmp/scribe-ls-{os.getuid()}")
    return base / "scribe.sock"


def prepare_socket_dir(path: Path) -> None:
    """Make (or check) the socket's directory: a real directory, ours, mode 0700; remove a
    stale socket of ours. Refuses anything else (another user could be waiting there)."""
    import stat as stat_mod

    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not stat_mod.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{directory} is not a directory owned by you; refusing to put a socket there")
    if stat_mod.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat_mod.S_ISSOCK(existing.st_mode) or existing.st_uid != os.getuid():
        raise OSError(f"{path} exists and is not a socket of yours; refusing to replace it")
    import socket

    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(str(path))
    except OSError:
        os.unlink(path)  # nobody listens: a stale socket from a server that died
    else:
        raise OSError(f"another server already listens on {path}")
    finally:
        probe.close()


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
                await _until_stopped(hub)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    return _run_and_exit(main())


async def _until_stopped(hub: ServiceHub) -> None:
    """Serve until SIGINT or SIGTERM, then close the services (flushing pending activity),
    bounded in time."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping: closing services")
    await _close_within(hub)


def _run_and_exit(main: Coroutine[Any, Any, None]) -> int:
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


def serve_ws(
    host: str,
    port: int,
    *,
    token: str,
    origins: Sequence[str] = (),
    max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES,
) -> int:
    """Serve JSON-RPC over WebSocket to any number of clients over one shared service.

    Any web page can open a WebSocket to localhost, so every connection must present the
    token (``?token=`` in the URL or ``Authorization: Bearer``) and, if it comes from a
    browser, an allowed ``Origin``; clients that send no Origin (scripts, tools) pass.
    """
    from http import HTTPStatus
    from urllib.parse import parse_qs, urlsplit

    from websockets.asyncio.server import ServerConnection, serve

    def check_token(connection: ServerConnection, request: Any) -> Any:
        supplied = parse_qs(urlsplit(request.path).query).get("token", [""])[0]
        auth = request.headers.get("Authorization", "")
        if not supplied and auth.lower().startswith("bearer "):
            supplied = auth[7:].strip()
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            log.warning("refused a WebSocket connection without the right token")
            return connection.respond(HTTPStatus.UNAUTHORIZED, "scribe-ls: missing or wrong token\n")
        return None

    async def connection(ws: ServerConnection) -> None:
        hub_server = ScribeLanguageServer(hub, on_exit=lambda code: asyncio.ensure_future(ws.close()))
        hub_server.protocol.set_writer(_TextWebSocketWriter(ws), include_headers=False)
        try:
            async for data in ws:
                await hub_server.room.wait()  # backpressure, as for stdio and TCP
                hub_server.protocol.receive(data)
        finally:
            await hub_server.detach()

    hub = ServiceHub()

    async def main() -> None:
        allowed: list[str | None] = [None, *origins]
        async with serve(
            connection, host, port, origins=allowed, process_request=check_token, max_size=max_message_bytes
        ) as ws_server:
            bound = next(iter(ws_server.sockets)).getsockname()[1]
            log.info(
                "serving JSON-RPC on ws://%s:%d (origins allowed: %s)", host, bound, list(origins) or "none"
            )
            await _until_stopped(hub)

    return _run_and_exit(main())
