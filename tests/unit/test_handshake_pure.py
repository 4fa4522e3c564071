"""The early answer to ``initialize`` (rpc/handshake.py) is pygls's answer, for every client
whose params it accepts; whatever it might read differently goes to pygls."""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.protocol.json_rpc import JsonRPCResponseMessage

from scribe_ls.rpc import handshake
from scribe_ls.rpc.hub import ServiceHub
from scribe_ls.rpc.protocol import ScribeProtocol
from scribe_ls.rpc.server import ScribeLanguageServer

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "tests" / "data" / "initialize"


def client_params(name: str) -> dict[str, Any]:
    """What a real client sent (captured from vscode-languageclient and Neovim 0.11)."""
    return json.loads((CLIENTS / f"{name}.json").read_text())


CLIENT_NAMES = sorted(path.stem for path in CLIENTS.glob("*.json"))


@functools.cache
def protocol() -> ScribeProtocol:
    return ScribeLanguageServer(ServiceHub(), on_exit=lambda code: None).protocol


def pygls_answer(params: dict[str, Any], msg_id: int | str = 7) -> bytes:
    """The bytes pygls sends for this initialize (its handler driven without the service)."""
    structured = protocol()._converter.structure(params, types.InitializeParams)
    steps = protocol().lsp_initialize(structured)
    next(steps)  # our attach, which this test does not run
    with pytest.raises(StopIteration) as done:
        steps.send(None)
    return handshake.frame(
        protocol()._serialize_message(JsonRPCResponseMessage(msg_id, "2.0", done.value.value))
    )


def early_answer(params: dict[str, Any], msg_id: int | str = 7) -> bytes:
    early = handshake.EarlyInitialize(msg_id, Path("."), params["capabilities"])
    return early.answer()


def test_the_shape_file_is_lsprotocols_own() -> None:
    """initialize_shape.json is what scripts/initialize_shape.py writes from the installed
    lsprotocol: an lsprotocol upgrade that changes InitializeParams fails here."""
    spec = importlib.util.spec_from_file_location(
        "initialize_shape", REPO / "scripts" / "initialize_shape.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert (REPO / "scribe_ls" / "rpc" / "initialize_shape.json").read_text() == script.rendered()


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_real_clients_are_answered_early_with_pygls_bytes(name: str) -> None:
    params = client_params(name)
    assert handshake.fits_initialize_params(params)
    assert early_answer(params) == pygls_answer(params)
    assert early_answer(params, "init-1") == pygls_answer(params, "init-1")


@pytest.mark.parametrize(
    "capabilities",
    [
        {},
        {"general": {"positionEncodings": ["utf-32", "utf-8"]}},
        {"general": {"positionEncodings": ["utf-7"]}},
        {"general": {"positionEncodings": []}},
        {"textDocument": {"synchronization": {"willSave": True}}},
        {"textDocument": {"synchronization": {"willSave": False, "willSaveWaitUntil": True}}},
        {"textDocument": {"synchronization": {"dynamicRegistration": True}}},
        {"notebookDocument": {"synchronization": {"dynamicRegistration": True}}},
        {"workspace": {"fileOperations": {"didCreate": True, "willRename": True}}},
        {"experimental": {"anything": [1, {"x": None}]}},
    ],
)
def test_capabilities_that_change_pyglss_answer_change_ours(capabilities: dict[str, Any]) -> None:
    params = {"processId": None, "rootUri": None, "capabilities": capabilities}
    assert handshake.fits_initialize_params(params)
    assert early_answer(params) == pygls_answer(params)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _mutations(params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every place in the params set to a value of each other JSON type, or removed."""
    for path in list(_paths(params))[1:]:
        for replacement in (None, True, 0, -1, 1.5, "x", [], [1], {}, {"x": 1}, "__delete__"):
            mutated = copy.deepcopy(params)
            holder = mutated
            for step in path[:-1]:
                holder = holder[step]
            if replacement == "__delete__":
                del holder[path[-1]]
            else:
                holder[path[-1]] = replacement
            yield mutated


@pytest.mark.parametrize("name", CLIENT_NAMES)
def test_what_is_accepted_early_pygls_reads_the_same_way(name: str) -> None:
    """For each place in a real client's params and each wrong value there: if the early
    path accepts it, pygls reads it without a complaint and answers the same bytes; what
    pygls might refuse (and answer -32602) is left to pygls."""
    converter = protocol()._converter
    accepted = refused = 0
    for mutated in _mutations(client_params(name)):
        if not handshake.fits_initialize_params(mutated):
            refused += 1
            continue
        accepted += 1
        converter.structure(mutated, types.InitializeParams)  # raises if pygls would refuse
        assert early_answer(mutated) == pygls_answer(mutated), mutated
    assert accepted > 100 and refused > 1000, (accepted, refused)


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ({"jsonrpc": "2.0", "id": 1, "method": "scribe/status", "params": {}}, "not initialize"),
        ({"jsonrpc": "2.0", "method": "initialize", "params": {"capabilities": {}}}, "a notification"),
        (
            {"jsonrpc": "2.0", "id": True, "method": "initialize", "params": {"capabilities": {}}},
            "a boolean id",
        ),
        ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": [1]}, "params not an object"),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {"workspace": 5}}},
            "bad",
        ),
        ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": "12"}}, "lenient pygls"),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"rootUri": "file:///nonexistent/x"},
            },
            "no such root",
        ),
        (
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"initializationOptions": {"root": 5}},
            },
            "options refused",
        ),
    ],
)
def test_what_goes_to_pygls(message: dict[str, Any], why: str) -> None:
    assert handshake.read_initialize(message) is None, why


def test_a_minimal_initialize_is_answered_early(tmp_path: Path) -> None:
    """processId and rootUri only (some scripts send no capabilities), as ScribeProtocol reads it."""
    message = {"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {"rootUri": tmp_path.as_uri()}}
    early = handshake.read_initialize(message)
    assert early is not None and early.root == tmp_path and early.id == 3
    assert early.answer() == pygls_answer({"rootUri": tmp_path.as_uri(), "capabilities": {}}, 3)


def test_the_root_is_chosen_as_pygls_path_chooses_it(tmp_path: Path) -> None:
    folder, other = tmp_path / "a b", tmp_path / "c"
    folder.mkdir()
    other.mkdir()
    params = {
        "capabilities": {},
        "rootUri": other.as_uri(),
        "workspaceFolders": [{"uri": folder.as_uri(), "name": "x"}],
    }
    early = handshake.read_initialize({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    assert early is not None and early.root == folder
    only_path = {"capabilities": {}, "rootPath": str(other)}
    early = handshake.read_initialize(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": only_path}
    )
    assert early is not None and early.root == other


PLAIN_MCP_INITIALIZE = (
    b'{"jsonrpc":"2.0","id":1,"method":"initialize",'
    b'"params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}'
)


def test_a_plain_mcp_initialize_is_answered_early() -> None:
    from scribe_ls.agents import mcp_handshake

    early = mcp_handshake.read_initialize(PLAIN_MCP_INITIALIZE)
    assert early == mcp_handshake.EarlyInitialize(1, "2025-06-18")


def test_mcp_negotiates_the_versions_the_sdk_negotiates() -> None:
    from mcp_types import version

    from scribe_ls.agents import mcp_handshake

    assert mcp_handshake.HANDSHAKE_PROTOCOL_VERSIONS == tuple(version.HANDSHAKE_PROTOCOL_VERSIONS)
    assert mcp_handshake.LATEST_HANDSHAKE_VERSION == version.LATEST_HANDSHAKE_VERSION


@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
        b'{"jsonrpc":"2.0","id":true,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"},"_meta":{}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"tasks":{}},"clientInfo":{"name":"x","version":"1"}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"roots":{"listChanged":1}},"clientInfo":{"name":"x","version":"1"}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1","icons":[]}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"\\ud800","version":"1"}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"\xff","version":"1"}}}',
        PLAIN_MCP_INITIALIZE + b' {"more":1}',
    ],
    ids=["method", "bool id", "_meta", "tasks", "a number", "icons", "surrogate", "not UTF-8", "more after"],
)  # fmt: skip
def test_mcp_lines_left_to_the_sdk(line: bytes) -> None:
    from scribe_ls.agents import mcp_handshake

    assert mcp_handshake.read_initialize(line) is None
