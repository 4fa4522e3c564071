"""``scribe-ls mcp install``: add the scribe-ls MCP server to a client's project file.

Claude Code reads ``.mcp.json``, Cursor ``.cursor/mcp.json``, VS Code ``.vscode/mcp.json``
(each at the repository root). The file is merged, never overwritten: other servers and
keys stay as they were, and a file that is not a JSON object is refused rather than
replaced, and it is never written through a link (:mod:`scribe_ls.agents.settings_files`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings_files import InstallError, read_object, scribe_command, write_object

__all__ = ["CLIENTS", "InstallError", "install", "snippet"]

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


def server_command() -> list[str]:
    """``scribe-ls mcp`` as this installation runs it, by its absolute path: the client
    starts it with its own PATH, which need not hold this installation's bin (a virtual
    environment's). The path is this machine's: each developer runs ``mcp install``."""
    return [*scribe_command(), "mcp"]


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
    current = read_object(path)
    servers = current.get(spec.servers_key, {})
    if not isinstance(servers, dict):
        raise InstallError(f"{path}: {spec.servers_key} is not an object; add the snippet by hand")
    wanted = entry(client)
    if servers.get(SERVER_NAME) == wanted:
        return path, False
    write_object(path, {**current, spec.servers_key: {**servers, SERVER_NAME: wanted}})
    return path, True
