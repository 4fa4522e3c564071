"""The dashboard's HTTP side: a fixed set of static files, for loopback names only.

Anything that reaches the port is looked at before the WebSocket handshake
(``process_request``): a Host header that is not this loopback address and port is refused
(a DNS-rebinding page would send its own name), a WebSocket upgrade from a page of another
Origin is refused (any page can open a WebSocket to localhost), and a plain GET gets one of
the shipped files or a 404. Every file goes out with a strict Content-Security-Policy: the
page runs only its own scripts and styles and talks only to this port.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

# Path -> (file in scribe_ls/dashboard/static, Content-Type). Nothing else is served.
ASSETS: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/markdown.js": ("markdown.js", "text/javascript; charset=utf-8"),
    "/chart.js": ("chart.js", "text/javascript; charset=utf-8"),
    "/rpc.js": ("rpc.js", "text/javascript; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
WS_PATH = "/rpc"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")  # the port is bound on 127.0.0.1 only


@dataclass(frozen=True, slots=True)
class Site:
    """What the dashboard at ``port`` accepts: its own Host names and Origins."""

    port: int

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(f"{name}:{self.port}" for name in LOOPBACK_NAMES)

    @property
    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts)

    def csp(self) -> str:
        sockets = " ".join(f"ws://{host}" for host in sorted(self.hosts))
        return (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            f" connect-src {sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        )

    def refusal(self, headers: Any, path: str) -> tuple[HTTPStatus, str] | None:
        """Why this request is refused (status, text), or None when it may go on. A header
        sent twice is as good as a wrong one."""
        hosts = headers.get_all("Host")
        host = hosts[0] if len(hosts) == 1 else ""
        if host.lower() not in self.hosts:
            log.warning("refused a request for Host %r (the dashboard answers only its own)", host[:100])
            return HTTPStatus.MISDIRECTED_REQUEST, "scribe-ls dashboard: unknown Host\n"
        if is_upgrade(headers):
            origins = headers.get_all("Origin")
            origin = origins[0] if len(origins) == 1 else "" if origins else None
            if origin is not None and origin.lower() not in self.origins:
                log.warning("refused a WebSocket from Origin %r", origin[:100])
                return HTTPStatus.FORBIDDEN, "scribe-ls dashboard: foreign Origin\n"
            if path.split("?", 1)[0] != WS_PATH:
                return HTTPStatus.NOT_FOUND, "not found\n"
        return None

    def asset(self, path: str) -> tuple[bytes, str] | None:
        """The shipped file at ``path`` (no query) and its type, or None."""
        found = ASSETS.get(path.split("?", 1)[0].split("#", 1)[0])
        if found is None:
            return None
        name, content_type = found
        return read_asset(name), content_type

    def security_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Security-Policy", self.csp()),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
            ("Cross-Origin-Opener-Policy", "same-origin"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            ("Cache-Control", "no-store"),
        ]


def is_upgrade(headers: Any) -> bool:
    """A WebSocket handshake (every Upgrade header is looked at)."""
    return any("websocket" in value.lower() for value in headers.get_all("Upgrade"))


_cache: dict[str, bytes] = {}


def read_asset(name: str) -> bytes:
    """A static file of the package (read once: they never change while running). The page
    takes its limits from the declarations: a note is held to appendEntry's ``text``."""
    if name not in _cache:
        data = resources.files("scribe_ls.dashboard").joinpath("static", name).read_bytes()
        if name == "index.html":
            from ..contract.operations import APPEND_ENTRY

            limit = APPEND_ENTRY.field("text").max_len
            data = data.replace(b"{{MAX_TEXT}}", str(limit).encode())
        _cache[name] = data
    return _cache[name]
