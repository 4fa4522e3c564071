"""The answer to ``initialize``, given before pygls is loaded.

Importing pygls means importing lsprotocol's ~1,000 protocol classes: about 200 ms, most of
a cold start, while what ``initialize`` answers does not depend on any of them. On stdio the
first message is read here: when it is an ``initialize`` whose params have exactly the shape
lsprotocol declares (``initialize_shape.json``, written from lsprotocol by
``scripts/initialize_shape.py`` and checked against it by the tests), it is answered with the
very bytes pygls would send, and then handed to pygls like any message, whose own answer to
it is not sent again (:class:`~scribe_ls.rpc.protocol.ScribeProtocol`). Anything else (another
method first, params pygls might read differently or refuse, a root that is not there) goes
to pygls untouched, which answers it as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pygls.uris import to_fs_path  # pygls's own: the same path pygls would make (no lsprotocol)

from .._version import __version__
from ..errors import ScribeError
from .methods import METHODS, capabilities
from .params import InitOptions

# What pygls writes before each body (pygls.protocol.JsonRPCProtocol._send_data).
CONTENT_TYPE = "application/vscode-jsonrpc; charset=utf-8"
POSITION_ENCODINGS = ("utf-8", "utf-16", "utf-32")  # pygls's _SUPPORTED_ENCODINGS
DEFAULT_POSITION_ENCODING = "utf-16"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1  # LSP's integer; its uinteger is 0 to INT32_MAX


def frame(payload: Any) -> bytes:
    """One message as pygls frames it (its header, ``json.dumps`` with default spacing)."""
    body = json.dumps(payload)
    return f"Content-Length: {len(body)}\r\nContent-Type: {CONTENT_TYPE}\r\n\r\n{body}".encode()


@cache
def _shape() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("initialize_shape.json").read_text("utf-8")
    return json.loads(text)


def _fits(value: Any, kind: Any) -> bool:
    """Whether ``value`` is, strictly, what ``kind`` declares. Strict where cattrs is lenient
    (``"yes"`` for a boolean): what does not fit goes to pygls, which decides as it always has."""
    if isinstance(kind, str):
        if kind == "any":
            return True
        if kind == "null":
            return value is None
        if kind == "bool":
            return isinstance(value, bool)
        if kind in ("int", "uint", "int32"):
            if not isinstance(value, int) or isinstance(value, bool):
                return False
            if kind == "uint":
                return 0 <= value <= INT32_MAX
            if kind == "int32":
                return INT32_MIN <= value <= INT32_MAX
            return True
        if kind == "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "str":
            return isinstance(value, str)
        return False  # "unknown": the shape could not say
    if "ref" in kind:
        return _fits_class(value, kind["ref"])
    if "union" in kind:
        return any(_fits(value, member) for member in kind["union"])
    if "list" in kind:
        return isinstance(value, list) and all(_fits(item, kind["list"]) for item in value)
    if "map" in kind:
        return isinstance(value, dict) and all(_fits(item, kind["map"]) for item in value.values())
    if "enum" in kind:
        return any(type(value) is type(member) and value == member for member in kind["enum"])
    return False


def _fits_class(value: Any, name: str) -> bool:
    if not isinstance(value, dict):
        return False
    declared = _shape()["classes"][name]
    if any(field not in value for field in declared["required"]):
        return False
    # Keys lsprotocol does not declare are ignored by pygls too.
    return all(_fits(value[key], kind) for key, kind in declared["fields"].items() if key in value)


def fits_initialize_params(params: Any) -> bool:
    """Whether pygls would read these ``initialize`` params without a complaint, and read
    them the way this module does."""
    return _fits_class(params, _shape()["root"])


def position_encoding(client_capabilities: dict[str, Any]) -> str:
    """pygls's choice: the client's first encoding it supports, else UTF-16."""
    offered = (client_capabilities.get("general") or {}).get("positionEncodings")
    for encoding in offered or ():
        if encoding in POSITION_ENCODINGS:
            return str(encoding)
    return DEFAULT_POSITION_ENCODING


def choose_root(
    folders: list[str] | None, root_uri: str | None, root_path: str | None, options: InitOptions
) -> Path:
    """First workspace folder, else rootUri, else rootPath, else initializationOptions.root,
    else the server's working directory."""
    if folders:
        return Path(to_fs_path(folders[0]) or ".")
    if root_uri:
        return Path(to_fs_path(root_uri) or ".")
    if root_path:
        return Path(root_path)
    if options.root:
        return Path(options.root)
    return Path.cwd()


def is_directory(path: Path) -> bool:
    """Whether ``path`` is a directory; a path the system cannot even look up (a name too
    long, say: a client's root is anyone's string) is not one."""
    try:
        return path.is_dir()
    except OSError:
        return False


def client_name(client_info: dict[str, Any] | None) -> str:
    if not client_info:
        return "a client that did not say its name"
    return f"{client_info['name']} {client_info.get('version') or ''}".strip()


def server_capabilities(client_capabilities: dict[str, Any]) -> dict[str, Any]:
    """What pygls builds from this server's features (no document sync, one command per
    request, workspace folders) and scribe's own table under ``experimental``."""
    sync: dict[str, Any] = {"openClose": True, "change": 0}
    asked = (client_capabilities.get("textDocument") or {}).get("synchronization") or {}
    # pygls offers willSave* as (client's value and a willSave feature): a client that names
    # them, true or false, is told false; one that does not is told nothing.
    for key in ("willSave", "willSaveWaitUntil"):
        if asked.get(key) is not None:
            sync[key] = False
    sync["save"] = True
    return {
        "positionEncoding": position_encoding(client_capabilities),
        "textDocumentSync": sync,
        "executeCommandProvider": {"commands": [method.command for method in METHODS]},
        "workspace": {
            "workspaceFolders": {"supported": True, "changeNotifications": True},
            "fileOperations": {},
        },
        "experimental": {"scribe": capabilities()},
    }


@dataclass(frozen=True, slots=True)
class EarlyInitialize:
    """A client's ``initialize`` that can be answered before pygls is loaded."""

    id: int | str
    root: Path
    client_capabilities: dict[str, Any]

    def answer(self) -> bytes:
        result = {
            "capabilities": server_capabilities(self.client_capabilities),
            "serverInfo": {"name": "scribe-ls", "version": __version__},
        }
        return frame({"id": self.id, "jsonrpc": "2.0", "result": result})


def read_initialize(message: Any) -> EarlyInitialize | None:
    """The client's first message as an :class:`EarlyInitialize`, or None when pygls is to
    read it (not an initialize request, params of another shape, a root that is not a
    directory, options the server refuses: pygls's answer says what is wrong)."""
    if (
        not isinstance(message, dict)
        or message.get("method") != "initialize"
        or message.get("jsonrpc") != "2.0"
    ):
        return None
    ident = message.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None
    params = message.get("params")
    if not isinstance(params, dict):
        return None
    if "capabilities" not in params:
        params = {**params, "capabilities": {}}  # as ScribeProtocol reads a minimal initialize
    if not fits_initialize_params(params):
        return None
    try:
        options = InitOptions.from_wire(params.get("initializationOptions"))
    except ScribeError:
        return None
    folders = [folder["uri"] for folder in params.get("workspaceFolders") or ()]
    root = choose_root(folders, params.get("rootUri"), params.get("rootPath"), options)
    if not is_directory(root):
        return None
    return EarlyInitialize(ident, root, params["capabilities"])


def show_message(level: int, message: str) -> bytes:
    """``window/showMessage`` framed as pygls frames its notifications."""
    return frame(
        {"params": {"type": level, "message": message}, "method": "window/showMessage", "jsonrpc": "2.0"}
    )


__all__ = [
    "EarlyInitialize",
    "choose_root",
    "client_name",
    "fits_initialize_params",
    "frame",
    "read_initialize",
    "server_capabilities",
    "show_message",
]
