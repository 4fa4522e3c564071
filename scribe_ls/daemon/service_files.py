"""``scribe-ls daemon install`` / ``uninstall``: the background recorder as a service the
user's service manager keeps running — a systemd user unit on Linux, a launchd agent on
macOS. Only the file is written (or removed); enabling it is one command, printed, that
the user runs (``systemctl --user enable --now …``, ``launchctl load -w …``)."""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path
from typing import NamedTuple

UNIT_NAME = "scribe-ls.service"
AGENT_LABEL = "dev.scribe-ls.daemon"


class ServiceFile(NamedTuple):
    path: Path
    text: str
    enable: str  # the command that turns it on
    disable: str  # the command that turns it off before removing it
    stop_removed: str  # the command that stops one still running once its file is gone


def daemon_argv() -> list[str]:
    # No idle exit: the service manager owns its life.
    return [sys.executable, "-m", "scribe_ls", "daemon", "run", "--idle-exit", "0", "--quiet"]


def _systemd_quote(word: str) -> str:
    """A word of ExecStart= (systemd splits on spaces and reads C-style escapes)."""
    if word and not any(c in word for c in " \t\"'\\$%;"):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    return f'"{escaped}"'


def systemd_unit(home: Path | None = None) -> ServiceFile:
    config = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config) if config else (home or Path.home()) / ".config"
    path = base / "systemd" / "user" / UNIT_NAME
    text = (
        "[Unit]\n"
        "Description=scribe-ls background recorder (sessions next to the code)\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={' '.join(_systemd_quote(word) for word in daemon_argv())}\n"
        "Restart=on-failure\n"
        "RestartSec=2\n"
        "\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    return ServiceFile(
        path,
        text,
        f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}",
        f"systemctl --user disable --now {UNIT_NAME}",
        f"systemctl --user stop {UNIT_NAME}; systemctl --user daemon-reload",
    )


def launchd_agent(home: Path | None = None) -> ServiceFile:
    home = home or Path.home()
    path = home / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
    logs = home / "Library" / "Logs" / "scribe-ls"
    agent = {
        "Label": AGENT_LABEL,
        "ProgramArguments": daemon_argv(),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ProcessType": "Background",
        "StandardOutPath": str(logs / "daemon.out"),
        "StandardErrorPath": str(logs / "daemon.err"),
    }
    text = plistlib.dumps(agent, sort_keys=False).decode("utf-8")
    return ServiceFile(
        path,
        text,
        f"launchctl load -w {path}",
        f"launchctl unload -w {path}",
        f"launchctl remove {AGENT_LABEL}",
    )


def for_platform(platform: str | None = None) -> ServiceFile:
    platform = platform or ("macos" if sys.platform == "darwin" else "linux")
    return launchd_agent() if platform == "macos" else systemd_unit()


def install(service: ServiceFile) -> None:
    """Write the file (its directory made if missing), replacing an earlier one of ours,
    never through a symbolic link."""
    service.path.parent.mkdir(parents=True, exist_ok=True)
    if service.path.is_symlink():
        raise OSError(f"{service.path} is a symbolic link; not writing through it")
    temp = service.path.with_name(f".{service.path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(service.text)
    os.replace(temp, service.path)


def uninstall(service: ServiceFile) -> bool:
    """Remove the file; False if it was not there."""
    try:
        os.unlink(service.path)
    except FileNotFoundError:
        return False
    return True
