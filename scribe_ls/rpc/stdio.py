"""stdio: one client (an editor that started us); the process ends with it.

A cold start is mostly importing pygls (lsprotocol's protocol classes). The client's first
message is ``initialize``, whose answer needs none of it, so this module does not import
pygls at first: it reads the first message itself, answers a well-formed ``initialize``
(:mod:`.handshake`) with the repository's service open, and only then loads pygls, in a
thread while the service runs, and hands it that same message. pygls sets itself up from it
as it always does; its answer, byte for byte the one already sent, is not sent twice. Any
other first message goes to pygls as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from ..core.events import Notification
from ..errors import ScribeError
from . import framing, handshake
from .connection import BoundedWriter, next_frame, read_frames, unread_output_limit
from .hub import Attached, ServiceHub, close_within

if TYPE_CHECKING:
    from .server import ScribeLanguageServer

log = logging.getLogger(__name__)

# Pushes kept while pygls loads (a fraction of a second: a handful in practice), at most.
MAX_KEPT_PUSHES = 1000


class FileWriter:
    """Where pygls writes when stdout is a regular file (output redirected): a plain write
    cannot block on a file, and each message is flushed whole."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


async def answer_early(
    body: bytes, hub: ServiceHub, writer: BoundedWriter | FileWriter
) -> tuple[int | str, Attached] | None:
    """Answer the first message if it is an ``initialize`` :mod:`.handshake` can answer: the
    root's service is opened (pygls's ``initialize`` handler would open it), its notices and
    the answer are written, and the service's pushes are kept until the connection is
    there to take them. None: pygls is to read the message."""
    try:
        message = framing.decode_body(body)
    except ValueError:  # also TooDeep: pygls's path answers it
        return None
    verdict = framing.check_envelope(message)
    if verdict.answers or verdict.message is None:
        return None
    try:
        early = await asyncio.to_thread(handshake.read_initialize, verdict.message)  # stats the root
    except Exception:  # never the client's problem: pygls answers it as it always did
        log.exception("initialize could not be answered early")
        return None
    if early is None:
        return None
    try:
        service = await hub.acquire(early.root)
    except ScribeError:
        return None  # pygls's path tries again and answers with the error
    pushes: list[Notification] = []

    def keep(event: Notification) -> None:
        if len(pushes) < MAX_KEPT_PUSHES:
            pushes.append(event)
        elif len(pushes) == MAX_KEPT_PUSHES:
            log.warning("more than %d pushes while pygls loaded; later ones were dropped", MAX_KEPT_PUSHES)
            pushes.append(event)  # one past the limit: said once

    stop_keeping = service.add_listener(keep)
    for level, text in service.notices:
        writer.write(handshake.show_message(level, text))  # LSP allows them before the answer
    answer = early.answer()
    writer.write(answer)
    return early.id, Attached(service, answer, pushes, stop_keeping)


def serve_stdio(*, max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES) -> int:
    """Serve one client on stdin/stdout until it sends ``exit``, closes the pipe, or the
    process gets SIGTERM/SIGINT; pending work is flushed in every case."""

    async def main() -> int:
        hub = ServiceHub()
        loop = asyncio.get_running_loop()
        exit_code: asyncio.Future[int] = loop.create_future()

        def on_exit(code: int) -> None:
            if not exit_code.done():
                exit_code.set_result(code)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, on_exit, 128 + signum)
        writer: BoundedWriter | FileWriter
        try:
            transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout.buffer)
            writer = BoundedWriter(transport, unread_output_limit(max_message_bytes), lambda: on_exit(1))
        except ValueError:  # stdout is a regular file
            writer = FileWriter(sys.stdout.buffer)
        # One thread blocks in read1(); it may still be blocked there when we exit.
        stdin_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scribe-stdin")
        # A buffered reader when stdin is a pipe or file, which is what read1 needs.
        stdin = cast(io.BufferedReader, sys.stdin.buffer)

        def read(n: int) -> Any:
            return loop.run_in_executor(stdin_thread, stdin.read1, n)

        reader = framing.FrameReader(read, max_message_bytes)
        servers: list[ScribeLanguageServer] = []
        session = asyncio.ensure_future(_serve(reader, hub, writer, on_exit, servers))
        ends: set[asyncio.Future[Any]] = {session, exit_code}
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        if session.done() and not session.cancelled() and (failure := session.exception()):
            log.error("reading stdin failed: %r", failure)
        session.cancel()
        server = servers[0] if servers else None
        await close_within(hub, detach=server.detach() if server is not None else None)
        if isinstance(writer, BoundedWriter):
            await writer.drain(5)
        if exit_code.done():
            return exit_code.result()
        # The client closed stdin without `exit`: that is how editors usually die.
        return 0 if server is not None and server._shutdown_requested else 1

    code = asyncio.run(main())
    with contextlib.suppress(ValueError, OSError):  # the pipe transport may have closed it
        sys.stdout.flush()
    logging.shutdown()
    # The stdin reader thread may still be blocked in read(); do not wait for it.
    os._exit(code)


async def _serve(
    reader: framing.FrameReader,
    hub: ServiceHub,
    writer: BoundedWriter | FileWriter,
    on_exit: Callable[[int], None],
    servers: list[ScribeLanguageServer],
) -> None:
    """The first message (answered early when it can be), then pygls for the rest."""
    first = await next_frame(reader)
    early = await answer_early(first, hub, writer) if isinstance(first, bytes) else None
    # pygls's import takes a while and holds no lock the loop needs: the service's
    # recorder goes on meanwhile.
    server_module = await asyncio.to_thread(importlib.import_module, "scribe_ls.rpc.server")
    server: ScribeLanguageServer = server_module.ScribeLanguageServer(
        hub, on_exit=on_exit, attached=early[1] if early else None
    )
    servers.append(server)
    server.protocol.set_writer(writer)
    if early is not None:
        server.protocol.answered_early(early[0], early[1].answer)
    await read_frames(reader, server, [first])
