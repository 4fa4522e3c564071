"""``scribe-ls mcp install``: add the scribe-ls MCP server to a client's project file.

Claude Code reads ``.mcp.json``, Cursor ``.cursor/mcp.json``, VS Code ``.vscode/mcp.json``
(each at the repository root). The file is merged, never overwritten: other servers and
keys stay as they were, and a file that is not a JSON object is refused rather than
replaced. The repository is not trusted: neither the file nor its folder may be a
symbolic link, and the new file replaces the old one atomically.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "scribe-ls"


@dataclass(frozen=True, slots=True)
class ClientFile:
    path: str  # relative to the root
    servers_key: str  # where servers live in it
    with_type: bool  # entries say "type": "stdio"


CLIENTS = {
    "claude": ClientFile(".mcp.json", "mcpServers", True),
    "cursor": ClientFile(".cursor/mcp.json", "mcpServers", False),
    "vscode": ClientFile(".vscode/mcp.json", "servers", True),
}


class InstallError(Exception):
    """The file cannot be merged safely; the message says why."""


def server_command() -> list[str]:
    """``scribe-ls mcp`` as this installation runs it: the command on PATH, else this
    interpreter with ``-m scribe_ls``."""
    if shutil.which("scribe-ls"):
        return ["scribe-ls", "mcp"]  # portable: the file is often shared in the repository
    return [sys.executable, "-m", "scribe_ls", "mcp"]


def entry(client: str) -> dict[str, Any]:
    command, *args = server_command()
    spec = CLIENTS[client]
    server: dict[str, Any] = {"type": "stdio"} if spec.with_type else {}
    return server | {"command": command, "args": args}


def snippet(client: str) -> str:
    """What the file gains, as a JSON object of its own."""
    return json.dumps({CLIENTS[client].servers_key: {SERVER_NAME: entry(client)}}, indent=2) + "\n"


def install(root: Path, client: str) -> tuple[Path, bool]:
    """Merge the scribe-ls server into ``client``'s file under ``root``; returns the file
    and whether it changed."""
    spec = CLIENTS[client]
    path = root / spec.path
    folder = path.parent
    for place in (folder, path):
        if place.is_symlink():
            raise InstallError(f"{place} is a symbolic link; not writing through it")
    current: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InstallError(
                f"{path} is not valid JSON ({exc}); fix it or add the snippet by hand"
            ) from None
        if not isinstance(loaded, dict):
            raise InstallError(f"{path} does not hold a JSON object; add the snippet by hand")
        current = loaded
    servers = current.get(spec.servers_key, {})
    if not isinstance(servers, dict):
        raise InstallError(f"{path}: {spec.servers_key} is not an object; add the snippet by hand")
    wanted = entry(client)
    if servers.get(SERVER_NAME) == wanted:
        return path, False
    merged = {**current, spec.servers_key: {**servers, SERVER_NAME: wanted}}
    folder.mkdir(exist_ok=True)
    if folder.is_symlink():  # made a link between the check and now
        raise InstallError(f"{folder} is a symbolic link; not writing through it")
    temp = folder / f".{path.name}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(merged, indent=2, ensure_ascii=False) + "\n")
        os.replace(temp, path)  # replaces a link at the path itself, never follows it
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path, True
