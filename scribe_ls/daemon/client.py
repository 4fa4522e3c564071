"""Talking to the background recorder (``scribe-ls daemon``), synchronously.

This is what ``scribe-ls start`` and the Python API use to hand a root to the daemon,
starting the daemon first when none runs. It imports only the standard library's
``socket``, ``json`` and (to spawn) ``subprocess``: the lean CLI pays about a millisecond
for a running daemon.

The protocol is one JSON object per line over a Unix socket in the user's runtime
directory (0700, the socket 0600): ``{"op": "watch", "root": "/repo"}`` is answered
``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Ops: ``watch``, ``unwatch``,
``status``, ``stop``.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from ..lazylog import get_logger
from ..userdirs import runtime_dir, state_dir

log = get_logger(__name__)

# Set to 0 (or `daemon = false` in the config) to record only while a server or `live`
# runs, as before the daemon; the test suite does, except where it tests the daemon.
ENABLE_ENV = "SCRIBE_LS_DAEMON"
REPLY_LIMIT = 1 << 20


class DaemonError(Exception):
    """The daemon answered with an error, or could not be reached."""


def socket_path() -> Path:
    return runtime_dir() / "daemon.sock"


def lock_path() -> Path:
    return runtime_dir() / "daemon.lock"


def log_path() -> Path:
    return state_dir() / "daemon.log"


def enabled() -> bool:
    return os.environ.get(ENABLE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def hand_off(root: Path, *, configured: bool) -> str | None:
    """What ``scribe-ls start`` and the Python API do after a start: hand ``root`` over
    (:func:`hand_root`) unless the config (``configured``) or ``$SCRIBE_LS_DAEMON`` says
    not to (None then). Raises OSError or DaemonError; the session is started either way."""
    if not configured or not enabled():
        return None
    return hand_root(root)


def hand_off_quietly(root: Path, asked: bool | None, configured: bool) -> None:
    """After a start in a process that does not record: ``asked`` True hands ``root`` over
    whatever the config and the environment say, None as they say (:func:`hand_off`). A
    failure is logged: the session is started either way."""
    try:
        if asked:
            hand_root(root)
        else:
            hand_off(root, configured=configured)
    except (OSError, DaemonError) as exc:
        log.warning("not recording %s in the background: %s", root, exc)


def _check_ours(directory: Path) -> None:
    """Only talk to a socket in a directory of ours that nobody else can enter: in /tmp,
    another local user could have made the directory first and be listening there."""
    import stat

    info = os.lstat(directory)  # FileNotFoundError: no daemon ever ran
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise DaemonError(f"{directory} is not a private directory of yours; not talking to a socket there")


def request(op: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
    """One request to the running daemon; raises FileNotFoundError or
    ConnectionRefusedError if none listens."""
    _check_ours(socket_path().parent)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(str(socket_path()))
        conn.sendall(json.dumps({"op": op, **fields}).encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n") and len(reply) < REPLY_LIMIT:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    try:
        answer = json.loads(reply)
    except ValueError as exc:
        raise DaemonError(f"the daemon's answer is not JSON: {reply[:200]!r}") from exc
    if not isinstance(answer, dict) or not answer.get("ok"):
        raise DaemonError(str(answer.get("error") if isinstance(answer, dict) else answer))
    return answer


SPAWN_WAIT = 10.0  # seconds a start waits for the daemon it spawned to record


def hand_root(root: Path) -> str:
    """Make sure the daemon records ``root``: tell the running one, or start one that
    will (detached: its own session and process group, no terminal, logs in the state
    directory; it is not waited for). Returns what happened ("watching", "started")."""
    try:
        request("watch", root=str(root))
        return "watching"
    except (FileNotFoundError, ConnectionRefusedError):
        pass  # nobody listens: start one (a stale socket is replaced by it)
    except TimeoutError as exc:
        raise DaemonError("the daemon did not answer within 5 s") from exc
    spawn(root)
    # Returned once the new daemon records the root (its watch armed): a save right after
    # `scribe-ls start` must be seen. It answers as soon as its socket is up.
    import time

    deadline = time.monotonic() + SPAWN_WAIT
    while time.monotonic() < deadline:
        try:
            request("watch", root=str(root))
            return "started"
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.02)
    raise DaemonError(f"the daemon it started did not answer within {SPAWN_WAIT:.0f} s")


def spawn(root: Path | None = None) -> None:
    """Start ``scribe-ls daemon run`` in the background, detached from this process."""
    import subprocess

    argv = [sys.executable, "-m", "scribe_ls", "daemon", "run", "--quiet"]
    if root is not None:
        argv += ["--watch", str(root)]
    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own session and process group: no terminal, no Ctrl-C
        close_fds=True,
        cwd="/",
    )
