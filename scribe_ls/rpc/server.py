"""JSON-RPC wiring: pygls in, :class:`~scribe_ls.core.service.Scribe` calls out. No logic here.

Every method of the table (:mod:`scribe_ls.rpc.methods`) is registered twice, as a
request and as a ``workspace/executeCommand`` command (``scribe.startSession``), both
going to :func:`~scribe_ls.rpc.methods.dispatch`. Errors become responses in one place
(:meth:`~scribe_ls.rpc.protocol.ScribeProtocol._answer`). Service notifications become pushes to this
connection's client. One :class:`ScribeLanguageServer` per connection, over one shared
``Scribe`` per root (:class:`ServiceHub`); the transports are in ``transports.py``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .._version import __version__
from ..core.events import RESUME_AVAILABLE, SHOW_MESSAGE, Notification
from ..core.service import Scribe
from ..errors import (
    SERVER_NOT_INITIALIZED,
    UNAUTHORIZED,
    ScribeError,
)
from ..logs import BurstLog
from ..metrics import METRICS
from ..model import clip
from ..store.layout import find_repo_root
from .handshake import choose_root, client_name, is_directory
from .hub import Attached, ServiceHub
from .methods import BY_NAME as METHODS_BY_NAME
from .methods import METHODS, Method, dispatch, progress_token
from .params import InitOptions
from .protocol import ScribeProtocol, ScribeRpcError, converter_factory

log = logging.getLogger(__name__)

# Wrong or missing tokens come in floods too: one log line per burst.
_REFUSED = BurstLog(log, "refused a connection without the right token")

# Requests of one connection being handled at once; past this we stop reading its input,
# so a client that floods us is slowed down instead of growing our memory.
MAX_IN_FLIGHT = 64


class ScribeLanguageServer(LanguageServer):
    """One client connection."""

    protocol: ScribeProtocol  # pygls builds it from protocol_cls below

    def __init__(
        self,
        hub: ServiceHub,
        *,
        on_exit: Callable[[int], Any],
        token: str | None = None,
        root: Path | None = None,
        allowed_roots: Sequence[Path] | None = None,
        attached: Attached | None = None,
    ) -> None:
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
        # A transport for one repository (the dashboard) fixes the root: what a client
        # names in initialize is not looked at.
        self._root = root
        # A transport that holds a token (TCP, WebSocket) serves only the repositories it
        # was started for: whoever has the token cannot name any other store on the disk.
        self._allowed_roots = None if allowed_roots is None else {p.resolve() for p in allowed_roots}
        # stdio answers initialize before this object exists (rpc/stdio.py): the service it
        # opened for it, taken over when pygls reads that initialize.
        self._attached = attached
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
        token = progress_token(method, params)
        started = time.perf_counter()
        try:
            if token is None:
                return await dispatch(self.service, method, params)
            return await self._with_progress(token, method, params)
        except ScribeError as exc:
            raise ScribeRpcError(exc.message, exc.code, exc.data) from None
        finally:
            METRICS.observe(f"request:{method}", (time.perf_counter() - started) * 1000)
            self.in_flight -= 1
            if self.in_flight < MAX_IN_FLIGHT:
                self.room.set()

    async def _with_progress(self, token: str | int, method: str, params: Any) -> Any:
        """``$/progress`` begin, a report per step the service names, end (also on failure)."""
        assert self.service is not None
        progress = self.work_done_progress
        title = METHODS_BY_NAME[method].progress or method
        progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0, cancellable=False))

        def report(message: str, percentage: int) -> None:
            progress.report(token, types.WorkDoneProgressReport(message=message, percentage=percentage))

        outcome = "failed"
        try:
            result = await dispatch(self.service, method, params, report)
            outcome = "done"
            return result
        finally:
            progress.end(token, types.WorkDoneProgressEnd(message=outcome))
            progress.tokens.pop(token, None)  # pygls keeps client tokens forever otherwise

    def push(self, event: Notification) -> None:
        if event.method == SHOW_MESSAGE:
            # A problem to show reaches even a client that silenced pushes.
            self.show_message(event.params["type"], event.params["message"])
        elif self.notifications_enabled and self.service is not None and self.service.config.notifications:
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
            _REFUSED.event()
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
        if self._attached is not None:
            self._take_over(self._attached, params)
            return
        root = self._root or pick_root(params, options)
        if not is_directory(root):
            # A client's root is anyone's string: the answer names it, within bounds.
            raise ScribeRpcError(f"rootUri: {clip(str(root), 300)} is not a directory", -32602)
        if self._allowed_roots is not None and self._root is None:
            repo = (await asyncio.to_thread(find_repo_root, root)).resolve()
            if repo not in self._allowed_roots:
                log.warning("refused a client naming a repository this server does not serve: %s", repo)
                served = ", ".join(sorted(str(p) for p in self._allowed_roots))
                raise ScribeRpcError(
                    f"rootUri: {repo} is not served here (this server serves {served}); start"
                    " `scribe-ls serve` in that repository, or add it with --allow-root",
                    -32602,
                )
        try:
            self.service = await self.hub.acquire(root)
        except ScribeError as exc:
            raise ScribeRpcError(exc.message, exc.code, exc.data) from None
        self._remove_listener = self.service.add_listener(self.push)
        log.info("%s attached to %s", client_named(params.client_info), self.service.root)
        for level, message in self.service.notices:
            # LSP allows showMessage while initialize is being answered.
            self.show_message(level, message)

    def _take_over(self, attached: Attached, params: types.InitializeParams) -> None:
        """The service opened for this initialize before pygls read it (its notices were
        sent with the early answer): listen to it, then hear what it pushed meanwhile."""
        self._attached = None
        self.service = attached.service
        self._remove_listener = self.service.add_listener(self.push)
        attached.stop_keeping()
        for event in attached.pushes:
            self.push(event)
        log.info("%s attached to %s", client_named(params.client_info), self.service.root)

    async def offer_resume(self) -> None:
        """Once per connection, after the handshake: a client that opens a root whose
        current session is paused hears where that work stands (``scribe/resumeAvailable``
        with the resume packet), so an editor can offer to pick it up."""
        service = self.service
        if service is None or not self.notifications_enabled or not service.config.notifications:
            return
        try:
            current = await service.current_session()
            if current is None or current.status != "paused":
                return
            packet = await service.resume(session_id=current.id)
        except ScribeError as exc:  # no usable store: there is nothing to offer
            log.info("no resume offered: %s", exc.message)
            return
        self.protocol.notify(RESUME_AVAILABLE, packet)

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


async def _maybe_await(value: Any) -> None:
    if asyncio.iscoroutine(value):
        await value


def pick_root(params: types.InitializeParams, options: InitOptions) -> Path:
    """The root a client names (:func:`~scribe_ls.rpc.handshake.choose_root`'s rules)."""
    folders = [folder.uri for folder in params.workspace_folders or ()]
    return choose_root(folders, params.root_uri, params.root_path, options)


def client_named(info: types.ClientInfo | None) -> str:
    return client_name(None if info is None else {"name": info.name, "version": info.version})


def register_features(server: ScribeLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    async def initialize(ls: ScribeLanguageServer, params: types.InitializeParams) -> None:
        await ls.attach(params)

    @server.feature(types.INITIALIZED)
    async def initialized(ls: ScribeLanguageServer, params: Any) -> None:
        await ls.offer_resume()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: ScribeLanguageServer, params: Any) -> None:
        ls._shutdown_requested = True

    # Editors send these to every server. Saves reach the recorder through the file
    # watcher, and settings come from the repository's files, so there is nothing to do;
    # handling them keeps pygls from warning about unknown methods.
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: ScribeLanguageServer, params: Any) -> None:
        return None

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: ScribeLanguageServer, params: Any) -> None:
        # The settings are the repository's files, not the editor's: read them again.
        if ls.service is not None:
            await ls.service.reload_config()

    @server.feature(types.EXIT)
    async def exit_(ls: ScribeLanguageServer, params: Any) -> None:
        # Not awaited here: pygls's shutdown cancels every handler still running, and an
        # exit that arrives right behind shutdown would be cancelled half-way.
        ls.exit_task = asyncio.ensure_future(ls.exit())

    for method in METHODS:
        _register_method(server, method)


def _register_method(server: ScribeLanguageServer, method: Method) -> None:
    async def request(ls: ScribeLanguageServer, params: Any) -> Any:
        return await ls.call(method.name, params)

    async def command(ls: ScribeLanguageServer, *arguments: Any) -> Any:
        if len(arguments) > 1:
            raise ScribeRpcError(
                f"arguments: {method.command} takes one params object, got {len(arguments)} arguments",
                -32602,
            )
        return await ls.call(method.name, arguments[0] if arguments else None)

    server.feature(method.name)(request)
    server.command(method.command)(command)
