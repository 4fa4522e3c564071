"""The JSON-RPC protocol under pygls: one answer for every request, errors in the protocol's
words, and nothing the wire sends can end a connection.

:class:`ScribeProtocol` reads each message through :mod:`scribe_ls.rpc.framing`'s verdict
(too deep, not an object, a notification sent with an id), answers every request exactly
once (:meth:`ScribeProtocol._answer` is where errors become responses), and keeps
``params`` as JSON for the core to check by the operations' declarations.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any, Protocol, cast

import attrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage

from ..core.events import NOTIFICATIONS
from ..errors import INTERNAL_ERROR, INVALID_REQUEST, wire_field
from . import framing, handshake
from .methods import capabilities


class Connection(Protocol):
    """What the protocol asks of its server (one connection): whether to close it after an
    answer (a message that ends the connection), and closing it."""

    close_after_answer: bool

    def close_connection(self) -> None: ...


log = logging.getLogger(__name__)

# Methods that are notifications by definition: LSP's (either direction) and scribe-ls's
# pushes. One sent with an id expects an answer it would never get from a notification
# handler, so it is refused (-32600) instead. scribe/heartbeat may be either.
NOTIFICATION_METHODS = frozenset(
    method for method, (kind, *_) in types.METHOD_TO_TYPES.items() if kind.__name__.endswith("Notification")
) | frozenset(NOTIFICATIONS)


class _QuietPygls(logging.Filter):
    """pygls logs a whole traceback for params it cannot structure (a client's mistake,
    answered -32602 and logged in one line by ScribeProtocol instead), and warns about
    what generic clients do all the time and LSP allows: cancelling a request that has
    already been answered, or a progress token that has already ended."""

    _DROPPED = ("Unable to deserialize message",)
    _ROUTINE = ("Cancel notification for unknown message id", "Ignoring work done progress cancel")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(self._DROPPED):
            return False
        if message.startswith(self._ROUTINE):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


for _name in ("pygls.protocol.json_rpc", "pygls.protocol.language_server"):
    logging.getLogger(_name).addFilter(_QuietPygls())


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


def _what_is_wrong(exc: JsonRpcException) -> str:
    """cattrs says "While structuring X (1 sub-exception)"; a client needs the field:
    "required field missing @ $.params.command"."""
    from cattrs import BaseValidationError, transform_error

    cause = exc.__cause__
    if isinstance(cause, BaseValidationError):
        # lsprotocol's attribute names, as the wire spells them (text_document -> textDocument).
        return "; ".join(wire_field(problem) for problem in transform_error(cause, path="$"))[:500]
    return str(cause or exc).splitlines()[0]


class ScribeProtocol(LanguageServerProtocol):
    """pygls's protocol with five repairs:

    - a request without a ``params`` member (legal JSON-RPC; Neovim and vscode-jsonrpc
      send it) gets ``params: null`` instead of being dropped unanswered (pygls 2.1.1);
    - a minimal ``initialize`` without ``capabilities`` (some small clients and scripts
      send only ``processId`` and ``rootUri``) is read as a client with no capabilities;
    - a request that cannot be structured at all is answered with -32602 instead of
      silence, so no client ever waits forever;
    - ``initialize`` advertises ``capabilities.experimental.scribe``;
    - ``didChange`` from a client that sends it although no sync was asked is ignored.
    """

    _early: tuple[int | str, bytes] | None = None  # see answered_early

    def structure_message(self, data: dict[str, Any]) -> Any:
        is_message = "jsonrpc" in data and "method" in data
        if is_message and "params" not in data:
            data["params"] = None
        params = data.get("params")
        if (
            data.get("method") == types.INITIALIZE
            and isinstance(params, dict)
            and "capabilities" not in params
        ):
            data["params"] = {**params, "capabilities": {}}
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            cause = _what_is_wrong(exc)
            log.warning("cannot read the params of %s: %s", str(data.get("method"))[:80], cause)
            if is_message and "id" in data:
                return _UnreadableRequest(data["id"], str(data["method"]), "2.0", cause)
            raise

    def receive(self, body: bytes | str) -> None:
        """One frame's body (or one WebSocket message): parse it as plain JSON (nested
        objects stay data, whatever keys they hold), check the envelope, dispatch."""
        try:
            data = framing.decode_body(body)
        except framing.TooDeep as exc:
            log.warning("refused a message: %s", exc)
            self._send_data(framing.too_deep(exc))
            return
        except ValueError as exc:  # also UnicodeDecodeError
            raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
            problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            log.warning("unreadable message (%d bytes): %s", len(raw), problem)
            why = problem if "(the limit)" in problem else "the body is not valid UTF-8 JSON"
            self._send_data(framing.parse_error(raw, why))
            return
        verdict = framing.check_envelope(data, shutting_down=self._shutdown)
        for answer in verdict.answers:
            self._send_data(answer)
        if verdict.message is None:
            return
        if "id" in verdict.message and verdict.message.get("method") in NOTIFICATION_METHODS:
            self._send_data(
                framing.error_response(
                    verdict.message["id"],
                    INVALID_REQUEST,
                    f"invalid request: {verdict.message['method']} is a notification; send it without an id",
                )
            )
            return
        try:
            message = self.structure_message(verdict.message)
        except JsonRpcException:
            return  # a notification has no answer; structure_message logged what is wrong
        self.handle_message(message)

    def answered_early(self, msg_id: int | str, answer: bytes) -> None:
        """The request ``msg_id`` (the client's initialize, on stdio) was answered with
        ``answer`` before pygls was loaded (:mod:`scribe_ls.rpc.handshake`); pygls's own
        answer to it, which it still computes, is not sent a second time."""
        self._early = (msg_id, answer)

    def _send_data(self, data: Any) -> None:
        early = self._early
        if early is not None and framing.answers(data, early[0]):
            self._early = None
            ours = handshake.frame(data if isinstance(data, dict) else self._serialize_message(data))
            if ours != early[1]:
                # A bug in handshake.py: say so loudly, the client has the early answer.
                log.error("initialize was answered early with %r; pygls answers %r", early[1], ours)
            return
        super()._send_data(data)

    def send_payload(self, payload: Any) -> None:
        """Send a JSON value (an answer this module built) as one message."""
        self._send_data(payload)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _UnreadableRequest):
            error = JsonRpcInvalidParams(f"params: cannot read {message.method} params: {message.problem}")
            self._send_response(message.id, None, error.to_response_error())
            return
        super().handle_message(message)

    def _check_handler_result(self, future: Future[Any]) -> None:
        """A notification's handler ended. A request's error is its answer; a notification
        (``scribe/heartbeat`` every 30 s, a scribe request sent without an id) has none, so
        an expected error is logged, not popped up in the editor as pygls would."""
        error = None if future.cancelled() else future.exception()
        if isinstance(error, ScribeRpcError):
            log.info("notification not applied: %s", error)
            return
        super()._check_handler_result(future)

    def _send_handler_result(self, future: Future[Any], *, msg_id: Any) -> None:
        try:
            self._answer(future, msg_id)
        finally:
            connection = cast(Connection, self._server)  # a ScribeLanguageServer
            if connection.close_after_answer:
                connection.close_connection()

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
        result.capabilities.experimental = {"scribe": capabilities()}
        return result

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        # This server reads no document's text (textDocumentSync.change is None); a client
        # that sends changes anyway (eglot sends incremental ones) gets silence, not one
        # "Unsupported ... TextDocumentContentChangeEvent" error in the log per edit.
        yield from ()
