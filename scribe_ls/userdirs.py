"""This user's own directories, outside any repository: the runtime directory (sockets,
the daemon's lock), the state directory (the daemon's log) and the configuration file.

A runtime directory in ``/tmp`` is shared with every other local user, so it is made
0700 and refused unless it is a real directory of ours; a socket there is 0600.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def runtime_dir() -> Path:
    """``$XDG_RUNTIME_DIR/scribe-ls``, else ``/tmp/scribe-ls-<uid>``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "scribe-ls" if runtime else Path(f"/tmp/scribe-ls-{os.getuid()}")


def state_dir() -> Path:
    """``$XDG_STATE_HOME/scribe-ls``, else ``~/.local/state/scribe-ls``."""
    state = os.environ.get("XDG_STATE_HOME")
    return (Path(state) if state else Path.home() / ".local" / "state") / "scribe-ls"


def user_config_path() -> Path:
    """The user's own settings, which a repository's can only narrow:
    ``$XDG_CONFIG_HOME/scribe-ls/config.toml``, else ``~/.config/scribe-ls/config.toml``."""
    config = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config) if config else Path.home() / ".config") / "scribe-ls" / "config.toml"


def ensure_private_dir(directory: Path, *, parents: bool = False) -> None:
    """Make (or check) ``directory``: a real directory, ours, mode 0700. Anything else is
    refused: another user could be waiting there."""
    try:
        directory.mkdir(mode=0o700, parents=parents)
    except FileExistsError:
        pass
    info = os.lstat(directory)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{directory} is not a directory owned by you; refusing to use it")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(directory, 0o700)


def prepare_socket_dir(path: Path) -> None:
    """Make (or check) the socket's directory (:func:`ensure_private_dir`) and remove a
    stale socket of ours; refuse a live one or anything that is not our socket."""
    ensure_private_dir(path.parent)
    try:
        existing = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(existing.st_mode) or existing.st_uid != os.getuid():
        raise OSError(f"{path} exists and is not a socket of yours; refusing to replace it")
    import socket

    probe = socket.socket(socket.AF_UNIX)
    try:
        probe.connect(str(path))
    except OSError:
        os.unlink(path)  # nobody listens: a stale socket from a process that died
    else:
        raise OSError(f"another server already listens on {path}")
    finally:
        probe.close()
