"""What every transport's connection shares: the bounded writer pygls writes to, and the
loop that feeds framed bodies to a connection's protocol."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import INVALID_REQUEST
from . import framing

if TYPE_CHECKING:  # the server module imports pygls: the stdio transport loads it late
    from .server import ScribeLanguageServer

log = logging.getLogger(__name__)


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


# What a connection's reader gives: a body, a message over the limit, or the end (None).
Frame = bytes | framing.MessageTooLarge | None


async def next_frame(reader: framing.FrameReader) -> Frame:
    try:
        return await reader.next_body()
    except framing.MessageTooLarge as exc:
        return exc


async def read_frames(
    reader: framing.FrameReader, server: ScribeLanguageServer, already_read: Sequence[Frame] = ()
) -> None:
    """Feed framed bodies (first those ``already_read``) to the protocol until the input
    ends. A connection with MAX_IN_FLIGHT requests running is not read further
    (backpressure)."""
    waiting = list(already_read)
    while True:
        await server.room.wait()
        frame = waiting.pop(0) if waiting else await next_frame(reader)
        if isinstance(frame, framing.MessageTooLarge):
            log.error("closing a connection: %s", frame)
            server.protocol.send_payload(
                framing.error_response(None, INVALID_REQUEST, f"invalid request: {frame}; closing")
            )
            return
        if frame is None:
            log.info("the client closed its end of the connection")
            return
        try:
            server.protocol.receive(frame)
        except Exception:  # one message must never end the connection
            log.exception("handling a message failed")
