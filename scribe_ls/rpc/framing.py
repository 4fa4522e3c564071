"""JSON-RPC framing and envelope checks, for every transport (no pygls here).

pygls 2.1.1's reader trusts its input: a lowercase ``content-length``, a length that is off
by a few bytes or a nested ``"jsonrpc"`` key leave it deaf or silent, and a huge
``Content-Length`` makes it allocate the whole body. This module reads frames the way a
careful client expects:

- header names are case-insensitive; junk before a header is skipped (and logged), so
  one bad frame costs that frame, never the connection;
- a body that runs into the next frame's header (a declared length that was too long) is
  cut at that header, which is then read as the next frame;
- a declared length over ``max_bytes`` raises :class:`MessageTooLarge` before anything is
  allocated; the transport answers and closes.

:func:`check_envelope` decides, for one parsed JSON value, what is a message to dispatch
and what gets an error answer (-32600) per JSON-RPC 2.0, so every request is answered.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import INVALID_REQUEST, PARSE_ERROR

log = logging.getLogger(__name__)


DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# A header block is a few dozen bytes; this much input without one is junk to drop.
MAX_HEADER_SEARCH = 64 * 1024
READ_CHUNK = 64 * 1024

# A frame header: Content-Length (any case), then any other header lines, then a blank
# line. Raw CR/LF cannot occur inside a JSON string, so this never matches inside a body.
# "Content-" is optional so that a header whose first bytes were swallowed by a frame
# declared too long (``tent-Length: 42``) is still found; the leftmost match of a whole
# header starts at its "C".
_HEADER_RE = re.compile(
    rb"(?i)(?:content-)?length[ \t]*:[ \t]*(\d{1,20})[ \t]*\r?\n"
    rb"(?:[A-Za-z0-9-]+[ \t]*:[^\r\n]*\r?\n)*\r?\n"
)
# Where the next frame starts inside a body that was declared too long.
_NEXT_HEADER_RE = re.compile(rb"(?i)content-length[ \t]*:[ \t]*\d{1,20}[ \t]*\r?\n")
# The id of a request whose body is not valid JSON, so its error can still reach the caller.
_SALVAGE_ID_RE = re.compile(rb'"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\\r\n]|\\.){0,200}")\s*[,}]')


class MessageTooLarge(Exception):
    def __init__(self, declared: int, limit: int) -> None:
        super().__init__(f"message of {declared} bytes is over the limit of {limit} bytes")
        self.declared = declared
        self.limit = limit


class FrameReader:
    """Reads ``Content-Length`` framed bodies from ``read(n)`` (returns b"" at EOF)."""

    def __init__(self, read: Callable[[int], Awaitable[bytes]], max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        self._read = read
        self._buffer = bytearray()
        self._eof = False
        self.max_bytes = max_bytes
        self.skipped_bytes = 0

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read(READ_CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    async def next_body(self) -> bytes | None:
        """The next frame's body, or None at the end of the input."""
        while True:
            match = _HEADER_RE.search(self._buffer)
            if match is None:
                if len(self._buffer) > MAX_HEADER_SEARCH:
                    # Keep a tail in case a header is split across reads.
                    self._skip(len(self._buffer) - 256)
                if not await self._fill():
                    return None
                continue
            if match.start():
                self._skip(match.start())
                continue
            length = int(match.group(1))
            if length > self.max_bytes:
                raise MessageTooLarge(length, self.max_bytes)
            end = match.end() + length
            while len(self._buffer) < end:
                if not await self._fill():
                    return None
            body = bytes(self._buffer[match.end() : end])
            del self._buffer[:end]
            # Declared too long: the body runs into the next frame's header (which may go
            # on in what is already buffered). Cut it there; the rest is the next frame.
            following = _NEXT_HEADER_RE.search(body + bytes(self._buffer[:64]))
            if following is not None and following.start() < len(body):
                early = len(body) - following.start()
                log.warning("a frame ran into the next header %d bytes early; resynchronised", early)
                self._buffer[:0] = body[following.start() :]
                body = body[: following.start()]
            return body

    def _skip(self, count: int) -> None:
        junk = bytes(self._buffer[:count])
        del self._buffer[:count]
        if junk.strip():
            self.skipped_bytes += count
            log.warning("skipped %d bytes of input that were not a frame", count)


_DECODER = json.JSONDecoder()

# How deep arrays and objects may nest in one message. LSP's deepest (initialize's
# capabilities) is under ten levels; Python's decoder and everything after it recurse, and
# past ~990 levels the decoder itself gives up with RecursionError.
MAX_DEPTH = 64


class TooDeep(ValueError):
    """Valid JSON nested deeper than :data:`MAX_DEPTH`."""

    def __init__(self, value: Any) -> None:
        super().__init__(f"the message nests arrays and objects deeper than {MAX_DEPTH} levels (the limit)")
        self.value = value


def decode_body(body: bytes | str) -> Any:
    """The JSON value a body starts with. Trailing bytes after a complete value (what a
    frame declared too long drags in when the next frame is not there yet) are logged and
    dropped. Raises :class:`TooDeep` for a value nested past :data:`MAX_DEPTH` and
    ValueError (UnicodeDecodeError included) for anything else, nesting too deep for the
    decoder itself included."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    text = text.lstrip()
    try:
        value, end = _DECODER.raw_decode(text)
    except RecursionError:
        raise ValueError(f"nested far deeper than {MAX_DEPTH} levels (the limit)") from None
    if text[end:].strip():
        log.warning("ignored %d bytes after a complete message", len(text) - end)
    # Counting brackets is one C pass; only a message with that many containers is walked.
    if text.count("[", 0, end) + text.count("{", 0, end) > MAX_DEPTH and nesting_depth(value) > MAX_DEPTH:
        raise TooDeep(value)
    return value


def nesting_depth(value: Any) -> int:
    """How deep arrays and objects nest in a decoded JSON value (iterative: no recursion)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def salvage_id(body: bytes) -> int | str | None:
    """The request id in a body that is not valid JSON, if one can be read."""
    match = _SALVAGE_ID_RE.search(body)
    if match is None:
        return None
    try:
        value = json.loads(match.group(1))
    except ValueError:
        return None
    return value if isinstance(value, int | str) else None


def error_response(msg_id: Any, code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": msg_id, "error": error}


def parse_error(body: bytes, problem: str) -> dict[str, Any]:
    return error_response(salvage_id(body), PARSE_ERROR, f"parse error: {problem}")


def too_deep(exc: TooDeep) -> dict[str, Any]:
    """The -32600 answer to a message nested past the limit (its id, when it has one)."""
    return _invalid(exc.value, str(exc).removeprefix("the message "))


def valid_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, str)


def answers(message: Any, msg_id: int | str) -> bool:
    """Whether ``message`` (a dict, or a library's message object: pygls's, the MCP SDK's)
    is the answer to request ``msg_id`` (1 and "1" are two ids)."""
    if isinstance(message, dict):
        ident, is_request = message.get("id"), "method" in message
    else:
        ident, is_request = getattr(message, "id", None), hasattr(message, "method")
    return not is_request and type(ident) is type(msg_id) and ident == msg_id


@dataclass(slots=True)
class Verdict:
    """What to do with one parsed JSON value."""

    message: dict[str, Any] | None = None  # dispatch this
    answers: list[Any] = field(default_factory=list)  # send these


def _invalid(data: Any, problem: str) -> dict[str, Any]:
    msg_id = data.get("id") if isinstance(data, dict) and valid_id(data.get("id")) else None
    return error_response(msg_id, INVALID_REQUEST, f"invalid request: {problem}")


def _problem(data: dict[str, Any]) -> str | None:
    if data.get("jsonrpc") != "2.0":
        version = data.get("jsonrpc")
        return 'jsonrpc must be "2.0"' + ("" if version is None else f", got {json.dumps(version)[:40]}")
    if "id" in data and data["id"] is not None and not valid_id(data["id"]):
        return "id must be a string or an integer"
    if "method" in data:
        if not isinstance(data["method"], str):
            return "method must be a string"
        return None
    if "id" in data and ("result" in data or "error" in data):
        return None  # a response to one of our requests
    return "method is missing"


def check_envelope(data: Any, *, shutting_down: bool = False) -> Verdict:
    """JSON-RPC 2.0 envelope rules: a dispatchable message, or the errors owed."""
    if isinstance(data, list):
        # LSP has no batches. Each element that expects an answer gets -32600, in one array
        # as JSON-RPC 2.0 asks; an empty array is itself an invalid request.
        if not data:
            return Verdict(answers=[_invalid(None, "an empty batch")])
        errors = [
            _invalid(item, "batch requests are not supported; send one message per frame")
            for item in data
            if not isinstance(item, dict) or "id" in item
        ]
        return Verdict(answers=[errors] if errors else [])
    if not isinstance(data, dict):
        return Verdict(answers=[_invalid(None, "expected a JSON object")])
    if (problem := _problem(data)) is not None:
        if "method" not in data and "id" not in data:
            # Nothing to answer to (a notification-shaped mistake): log only.
            log.warning("ignored an invalid message: %s", problem)
            return Verdict()
        return Verdict(answers=[_invalid(data, problem)])
    method = data.get("method")
    if shutting_down and method is not None and method != "exit":
        if "id" in data:
            return Verdict(answers=[_invalid(data, "the server is shutting down (only exit is accepted)")])
        return Verdict()
    if method is not None and "id" in data and data["id"] is None:
        # A request with a null id cannot be told apart from its own error answer.
        return Verdict(answers=[_invalid(data, "id must be a string or an integer")])
    if data.get("params") == []:
        # Lua's empty table encodes as []: read it as the empty object it means.
        data = {**data, "params": {}}
    return Verdict(message=data)
