"""``scribe-ls dashboard``: the live page and its WebSocket on one loopback port.

The page (static files, :mod:`.site`) speaks the same JSON-RPC as every client over the
WebSocket transport at ``/rpc``: it presents the token in ``initialize`` (read from the URL's
fragment, which browsers never send to a server or put in a Referer) and is served this one
repository, whatever it names.
"""

from __future__ import annotations

import contextlib
import html
import logging
import sys
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ..rpc import framing
from ..rpc.hub import ServiceHub
from ..rpc.transports import run_and_exit, until_stopped, ws_connection
from ..store.layout import Layout
from .site import Site, is_upgrade

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # loopback only: the page is for the person at this machine


def dashboard_url(port: int, token: str) -> str:
    return f"http://{HOST}:{port}/#token={token}"


def _launcher(url: str) -> str:
    target = html.escape(url, quote=True)
    return (
        '<!doctype html><meta charset="utf-8"><title>scribe-ls dashboard</title>'
        f'<meta http-equiv="refresh" content="0;url={target}">'
        f'<a href="{target}">Open the scribe-ls dashboard</a>\n'
    )


def serve_dashboard(
    root: Path,
    *,
    port: int,
    token: str,
    open_browser: bool = False,
    on_ready: Callable[[str], Any] | None = None,
    max_message_bytes: int = framing.DEFAULT_MAX_MESSAGE_BYTES,
) -> int:
    """Serve the dashboard of ``root`` on ``127.0.0.1:port`` (0: any free port) until
    SIGINT/SIGTERM. ``on_ready`` gets the URL (with the token in its fragment)."""
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.datastructures import Headers
    from websockets.http11 import Request, Response

    hub = ServiceHub()
    connection = ws_connection(hub, token=token, root=root)
    layout = Layout(root)
    site: Site | None = None

    def process_request(conn: ServerConnection, request: Request) -> Response | None:
        assert site is not None
        refused = site.refusal(request.headers, request.path)
        if refused is not None:
            return conn.respond(*refused)
        if is_upgrade(request.headers):
            return None  # the handshake goes on; the token is checked at initialize
        found = site.asset(request.path)
        if found is None:
            response = conn.respond(HTTPStatus.NOT_FOUND, "not found\n")
        else:
            body, content_type = found
            headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
            response = Response(HTTPStatus.OK, "OK", headers, body)
        for name, value in site.security_headers():
            response.headers[name] = value
        return response

    async def main() -> None:
        nonlocal site
        # The repository's service from the start, not from the first page: while the
        # dashboard runs, the work tree is recorded (or relayed, if an editor records it).
        await hub.acquire(root)
        async with serve(
            connection,
            HOST,
            port,
            process_request=process_request,
            max_size=max_message_bytes,
            server_header=None,  # no versions for a prober
        ) as server:
            bound = next(iter(server.sockets)).getsockname()[1]
            site = Site(bound)
            url = dashboard_url(bound, token)
            log.info("dashboard of %s on http://%s:%d/", root, HOST, bound)
            if on_ready is not None:
                on_ready(url)
            if open_browser:
                _open(layout, url)
            try:
                await until_stopped(hub)
            finally:
                with contextlib.suppress(OSError):
                    layout.remove(layout.dashboard_launcher_path)

    return run_and_exit(main())


def _open(layout: Layout, url: str) -> None:
    """Open the page in the user's browser through a 0600 launcher page in the store's
    directory: a browser's command line (which other users can read) has no token."""
    try:
        layout.ensure()
        path = layout.dashboard_launcher_path
        layout.write_atomic(path, _launcher(url), mode=0o600)
        if not webbrowser.open(path.as_uri()):
            print("scribe-ls: no browser found; open the URL above", file=sys.stderr)
    except OSError as exc:
        print(f"scribe-ls: could not open a browser ({exc}); open the URL above", file=sys.stderr)
