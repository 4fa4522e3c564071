"""MCP on stdio with exactly one answer per request, whatever the bytes.

The SDK's stdio transport drops a line it cannot read (invalid JSON, bytes that are not
UTF-8, nesting too deep for its parser, an envelope it does not accept): the request is
never answered and the client waits. Here each line is checked first with the language
server's own rules (:mod:`scribe_ls.rpc.framing`), so an MCP client gets the same answers
in the same words as an editor: -32700 for what is not JSON (with the request's id when
it can be read), -32600 for what is not a request (and for nesting past the limit),
-32602 naming the field for text that holds a lone surrogate. Only what passes reaches the
SDK, through its own ``stdio_server`` (which keeps stray prints off the wire).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage

from ..contract.rules import json_type
from ..errors import INVALID_PARAMS, INVALID_REQUEST
from ..rpc import framing

log = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

Answer = Callable[[dict[str, Any]], Awaitable[None]]


def check_line(line: bytes) -> tuple[str | None, list[dict[str, Any]]]:
    """One line of input: the text to hand to the SDK (None: nothing), and the error
    answers owed for it."""
    text, answers, _ = _checked(line)
    return text, answers


def _checked(line: bytes) -> tuple[str | None, list[dict[str, Any]], dict[str, Any] | None]:
    """:func:`check_line`, and the message passed on (read once: its id is awaited)."""
    if not line.strip():
        return None, [], None
    try:
        value = framing.decode_body(line)
    except framing.TooDeep as exc:
        return None, [framing.too_deep(exc)], None
    except ValueError as exc:
        problem = str(exc) if "(the limit)" in str(exc) else "the line is not valid UTF-8 JSON"
        return None, [framing.parse_error(line, problem)], None
    if isinstance(value, list):
        # MCP has no batches: one line, one answer.
        problem = "invalid request: batches are not supported; send one message per line"
        return None, [framing.error_response(None, INVALID_REQUEST, problem)], None
    verdict = framing.check_envelope(value)
    answers = list(verdict.answers)
    message = verdict.message
    if message is None:
        return None, answers, None
    params = message.get("params")
    if message.get("method") == "tools/call" and "id" in message and isinstance(params, dict):
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            # The SDK says only "Invalid request parameters": say which, as a client reads it.
            problem = f"params.arguments: expected an object, got {json_type(arguments)}"
            return None, [*answers, framing.error_response(message["id"], INVALID_PARAMS, problem)], None
    if (where := surrogate_at(message.get("params"), "params")) is not None:
        if "id" not in message or "method" not in message:
            log.warning("dropped a notification holding a lone surrogate at %s", where)
            return None, answers, None
        problem = f"{where}: holds a lone surrogate, which is not a character (send UTF-8 text)"
        return None, [*answers, framing.error_response(message["id"], INVALID_PARAMS, problem)], None
    try:
        types.jsonrpc_message_adapter.validate_python(message, by_name=False)
    except ValueError as exc:
        if "id" in message and "method" in message:
            first = str(exc).splitlines()[1:2] or ["not an MCP message"]
            answer = framing.error_response(message["id"], INVALID_REQUEST, f"invalid request: {first[0]}")
            return None, [*answers, answer], None
        log.warning("dropped a message the MCP SDK cannot read: %s", str(exc).splitlines()[0])
        return None, answers, None
    return line.decode("utf-8"), answers, message


def surrogate_at(value: Any, path: str) -> str | None:
    """Where in ``value`` a string holds a lone surrogate (``params.arguments.text``)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if _SURROGATE_RE.search(item):
                return where
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE_RE.search(key):
                    return f"{where} (a key)"
                stack.append((child, f"{where}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{index}]") for index, child in enumerate(item))
    return None


DRAIN_TIMEOUT = 30.0  # seconds the requests still being handled get once stdin has closed


def _id_key(ident: Any) -> str:
    return json.dumps(ident)  # 1 and "1" are two ids


class Answered:
    """The server's write stream, noting which requests it answered: when stdin closes, the
    requests still being handled get their answers before the process ends (one answer
    per request, also for a client that wrote its last request and closed the pipe)."""

    def __init__(self, inner: Any, early: tuple[int | str, bytes] | None = None) -> None:
        self._inner = inner
        self.waiting: set[str] = set()  # the ids of requests passed on and not answered
        self._settled: anyio.Event | None = None
        # The initialize answered before the SDK was loaded (mcp_handshake.py): its id, and
        # the line written then.
        self._early = early

    async def send(self, item: SessionMessage) -> None:
        message = getattr(item.message, "root", item.message)
        is_answer = not hasattr(message, "method")
        ident = getattr(message, "id", None)
        if self._early is not None and framing.answers(message, self._early[0]):
            ours = item.message.model_dump_json(by_alias=True, exclude_unset=True).encode() + b"\n"
            if ours != self._early[1]:
                # A bug in mcp_handshake.py: say so loudly; the client has the early answer.
                log.error("initialize was answered early with %r; the SDK answers %r", self._early[1], ours)
            self._early = None
        else:
            await self._inner.send(item)
        if is_answer and ident is not None:
            self.waiting.discard(_id_key(ident))
            if not self.waiting and self._settled is not None:
                self._settled.set()

    async def settled(self) -> None:
        """Until no request passed on is waiting for its answer."""
        while self.waiting:
            self._settled = anyio.Event()
            await self._settled.wait()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> Answered:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        return await self._inner.__aexit__(*exc_info)


class CheckedLines:
    """stdin's lines as the SDK's ``stdio_server`` reads them (an async iterable of str),
    each checked first; what fails gets its answer through ``answer``. A line longer than
    ``max_bytes`` is answered -32600 and skipped to its end, never held whole. At the end
    of stdin, the iterator ends once the requests passed on were answered (``answered``)."""

    def __init__(self, source: anyio.AsyncFile[bytes], max_bytes: int, read: bytes = b"") -> None:
        self._source = source
        self._max_bytes = max_bytes
        self._read = read  # what was read of the source before (mcp_handshake.py)
        self.answer: Answer | None = None
        self.answered: Answered | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[str]:
        buffer = bytearray()
        skipping = False
        while True:
            if self._read:
                chunk, self._read = self._read, b""
            else:
                chunk = await self._source.read1(READ_CHUNK)
            if not chunk:
                await self._drained()
                return
            buffer += chunk
            while (end := buffer.find(b"\n")) >= 0:
                line = bytes(buffer[:end])
                del buffer[: end + 1]
                if skipping:
                    skipping = False
                    continue
                text, answers, message = _checked(line)
                for answer in answers:
                    await self._send(answer)
                if text is not None:
                    self._note_request(message)
                    yield text
            if len(buffer) > self._max_bytes and not skipping:
                await self._send(
                    framing.error_response(
                        framing.salvage_id(bytes(buffer[:4096])),
                        INVALID_REQUEST,
                        f"invalid request: a message over the limit of {self._max_bytes} bytes",
                    )
                )
                skipping = True
            if skipping:
                buffer.clear()

    def _note_request(self, message: dict[str, Any] | None) -> None:
        if self.answered is not None and message and "method" in message and message.get("id") is not None:
            self.answered.waiting.add(_id_key(message["id"]))

    async def _drained(self) -> None:
        """Wait (at most DRAIN_TIMEOUT) until every request passed on was answered."""
        if self.answered is not None:
            with anyio.move_on_after(DRAIN_TIMEOUT):
                await self.answered.settled()

    async def _send(self, payload: dict[str, Any]) -> None:
        if self.answer is not None:
            await self.answer(payload)


async def run_stdio(
    server: MCPServer,
    *,
    max_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES,
    stdin: anyio.AsyncFile[bytes] | None = None,
    read: bytes = b"",
    early: tuple[int | str, bytes] | None = None,
) -> None:
    """``server.run_stdio_async()``, with every line checked first (see the module).
    ``read``: what was read of stdin already; ``early``: an initialize already answered
    (its id and answer), whose answer from the SDK is not written again."""
    lines = CheckedLines(stdin or anyio.wrap_file(sys.stdin.buffer), max_bytes, read)
    # stdio_server only iterates its stdin (``async for line``), which CheckedLines provides.
    async with stdio_server(stdin=lines) as (read_stream, write_stream):  # type: ignore[arg-type]
        outgoing = write_stream.clone()

        async def answer(payload: dict[str, Any]) -> None:
            message = types.jsonrpc_message_adapter.validate_python(payload)
            try:
                await outgoing.send(SessionMessage(message))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the server is ending: nobody is left to read the answer

        lines.answer = answer
        lines.answered = watched = Answered(write_stream, early)
        lowlevel = server._lowlevel_server  # what run_stdio_async runs; the SDK has no public name for it
        # The clone is closed when the session ends (stdin closed): stdout's writer waits for
        # every sender to close, and the process would never exit.
        async with outgoing:
            await lowlevel.run(read_stream, watched, lowlevel.create_initialization_options())
