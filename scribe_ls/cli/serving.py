"""``scribe-ls serve`` and ``scribe-ls dashboard``: a server on stdio, a Unix socket, TCP or
WebSocket, and the tokens that guard a port."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .parser import UsageError


def serve(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..logs import setup_logging
    from ..store.layout import Layout, find_repo_root

    root = find_repo_root(Path(args.root))
    config = load_config(root)
    setup_logging(Layout(root), config)
    if sum(bool(x) for x in (args.tcp, args.ws, args.socket is not None)) > 1:
        raise UsageError("--tcp, --ws and --socket: choose one transport")
    limit = config.max_message_bytes
    if not (args.tcp or args.ws or args.socket is not None):
        if sys.stdin.isatty():
            print("scribe-ls: serving JSON-RPC on stdin/stdout for an editor; Ctrl-C stops", file=sys.stderr)
        from ..rpc.stdio import serve_stdio  # pygls is loaded once initialize is answered

        return serve_stdio(max_message_bytes=limit)
    from ..rpc import transports as server

    if args.socket is not None:
        socket_path = Path(args.socket) if args.socket else server.default_socket_path()
        try:
            return server.serve_unix(socket_path, max_message_bytes=limit)
        except OSError as exc:  # the socket's directory or path is not ours to use
            print(f"scribe-ls: --socket: {exc}", file=sys.stderr)
            return 1
    host, port = _host_port("--tcp" if args.tcp else "--ws", args.tcp or args.ws)
    token, made = _token(args.token, args.token_file)
    if made:
        # stderr: the token is for the person starting the server, never the protocol.
        print(f"scribe-ls: token: {token}", file=sys.stderr, flush=True)
    served = [root, *(find_repo_root(Path(extra)) for extra in args.allow_root)]
    if args.tcp:
        return server.serve_tcp(host, port, token=token, max_message_bytes=limit, allowed_roots=served)
    return server.serve_ws(
        host, port, token=token, origins=args.allow_origin, max_message_bytes=limit, allowed_roots=served
    )


def dashboard(args: argparse.Namespace) -> int:
    from ..config import load_config
    from ..logs import setup_logging
    from ..store.layout import Layout, find_repo_root

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {args.port}")
    root = find_repo_root(Path(args.root))
    config = load_config(root)
    # A person at a terminal: the URL, warnings and errors (-v: everything logged).
    setup_logging(Layout(root), config, stderr_level=None if args.verbose else logging.WARNING)
    token, _ = _token(args.token, args.token_file)
    from ..dashboard.serve import serve_dashboard

    def ready(url: str) -> None:
        # The token rides in the fragment: browsers never send it to a server or a log.
        print(f"scribe-ls: dashboard of {root} at {url}", file=sys.stderr, flush=True)

    try:
        return serve_dashboard(
            root,
            port=args.port,
            token=token,
            open_browser=args.open_browser,
            on_ready=ready,
            max_message_bytes=config.max_message_bytes,
        )
    except OSError as exc:  # the port is taken
        print(f"scribe-ls: dashboard: --port {args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _token(given: str | None, token_file: str | None = None) -> tuple[str, bool]:
    """The token clients of a port must present: ``--token-file``, ``--token``, else
    ``$SCRIBE_LS_TOKEN``, else a random one (then True: the person starting the server must
    be told it)."""
    if token_file is not None:
        return _read_token_file(Path(token_file)), False
    if given:
        # Every local user can read /proc/PID/cmdline: the token is as good as public.
        print(
            "scribe-ls: warning: --token is visible to every local user (/proc/PID/cmdline);"
            " use $SCRIBE_LS_TOKEN or --token-file",
            file=sys.stderr,
        )
        return given, False
    if token := os.environ.get("SCRIBE_LS_TOKEN"):
        return token, False
    import secrets

    return secrets.token_urlsafe(24), True


def _read_token_file(path: Path) -> str:
    """The token in ``path``: a regular file of this user's that no one else can read."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"--token-file: cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"--token-file: {path} is not a regular file")
        if info.st_mode & 0o077 or info.st_uid != os.getuid():
            raise UsageError(
                f"--token-file: {path} can be read by others (mode {stat.S_IMODE(info.st_mode):o});"
                f" chmod 600 {path}"
            )
        token = handle.read(4096).decode("utf-8", "replace").strip()
    if len(token) < 16:
        raise UsageError(f"--token-file: {path} holds {len(token)} characters; a token needs at least 16")
    return token


def _host_port(option: str, value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"{option}: expected [HOST:]PORT, got {value!r}")
    return host or "127.0.0.1", int(port)
