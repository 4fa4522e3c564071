"""On stdio, ``initialize`` is answered before pygls is loaded (rpc/stdio.py, rpc/handshake.py):
the real server, real clients' params, and what a client sees after the answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from .helpers import configure, run_cli
from .rawrpc import RawPeer

pytestmark = pytest.mark.timeout(60)

CLIENTS = Path(__file__).resolve().parents[1] / "data" / "initialize"
MISMATCH = "was answered early with"  # what rpc/protocol.py logs if the two answers differ
HUGE_ROOT = b"file:///" + b"a" * 99_999  # a path no system can look up (a name is at most 255 bytes)


def real_client(name: str, root: Path) -> dict[str, Any]:
    params = json.loads((CLIENTS / f"{name}.json").read_text())
    return {
        **params,
        "rootUri": root.as_uri(),
        "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
    }


async def until_notified(peer: RawPeer, method: str, timeout: float = 10) -> dict[str, Any]:
    """Read answers to heartbeats until a ``method`` push has arrived."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    ident = 1000
    while loop.time() < deadline:
        if found := [note for note in peer.notifications if note["method"] == method]:
            return found[0]
        ident += 1
        await peer.request(ident, "scribe/heartbeat", {})
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no {method} push")


@pytest.mark.parametrize("client", ["vscode-languageclient", "neovim"])
async def test_a_real_clients_session_starts_on_the_early_answer(repo: Path, client: str) -> None:
    """The answer a real client gets, then a whole session: requests, a push, shutdown."""
    peer = await RawPeer.start(repo, initialize=False)
    try:
        answer = await peer.request(1, "initialize", real_client(client, repo))
        capabilities = answer["result"]["capabilities"]
        assert capabilities["positionEncoding"] == ("utf-8" if client == "neovim" else "utf-16")
        assert capabilities["textDocumentSync"]["change"] == 0
        assert "scribe/getContext" in capabilities["experimental"]["scribe"]["methods"]
        await peer.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        started = await peer.request(2, "scribe/startSession", {"backlogId": "B-1"})
        assert started["result"]["backlogId"] == "B-1"
        assert (await until_notified(peer, "scribe/sessionChanged"))["params"]["session"][
            "backlogId"
        ] == "B-1"
        listed = await peer.request(3, "scribe/listSessions", {})
        assert [session["backlogId"] for session in listed["result"]["sessions"]] == ["B-1"]
        assert [m for m in peer.stray if m.get("id") == 1] == []  # initialize answered once
    finally:
        assert await peer.close() == 0
    log = peer.stderr_text()
    assert MISMATCH not in log and "Traceback" not in log
    assert "attached to" in log


async def test_notices_come_once_before_the_answer(repo: Path) -> None:
    """A finding at start (a setting the server does not know) is shown once, before the
    initialize answer as LSP allows; pygls reading the same initialize does not repeat it."""
    configure(repo, "no_such_setting = 1\n")
    peer = await RawPeer.start(repo, initialize=False)
    try:
        await peer.send(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": real_client("neovim", repo)}
        )
        assert "result" in await peer.answer(1)
        told = [n["params"]["message"] for n in peer.notifications if n["method"] == "window/showMessage"]
        assert len(told) == 1 and "no_such_setting" in told[0]
        await peer.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        await peer.request(2, "scribe/status", {})
        told = [n["params"]["message"] for n in peer.notifications if n["method"] == "window/showMessage"]
        assert len(told) == 1
    finally:
        await peer.close()


async def test_what_the_recorder_pushes_while_pygls_loads_reaches_the_client(repo: Path) -> None:
    """The service runs from the early answer on; what it pushes before pygls is ready is
    kept and delivered, not lost: saves right after the answer are reported."""
    configure(repo, "activity_window = 0.1\ndaemon = false\n")  # this server records, not a daemon
    assert run_cli(repo, "start").returncode == 0  # the branch's item: the current session
    peer = await RawPeer.start(repo, initialize=False)
    try:
        await peer.send(
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": real_client("neovim", repo)}
        )
        await peer.answer(1)
        # pygls is loading now; the watcher may still be starting: save until it is seen.
        for attempt in range(3):
            (repo / "saved_at_once.py").write_text(f"x = {attempt}\n")
            await asyncio.sleep(0.1)
        await peer.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        pushed = await until_notified(peer, "scribe/activity")
        assert "saved_at_once.py" in json.dumps(pushed["params"])
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"capabilities": {"workspace": 5}}, "capabilities.workspace"),
        ({"capabilities": {}, "rootUri": "file:///nonexistent/scribe"}, "rootUri"),
        (
            {"capabilities": {}, "initializationOptions": {"notifications": "yes"}},
            "initializationOptions.notifications",
        ),
    ],
)
async def test_a_bad_initialize_still_gets_pyglss_error(
    repo: Path, params: dict[str, Any], field: str
) -> None:
    """What the early path does not answer, pygls answers as before: -32602 naming the field,
    and the server goes on (a second initialize may follow)."""
    peer = await RawPeer.start(repo, initialize=False)
    try:
        refused = await peer.request(1, "initialize", params)
        assert refused["error"]["code"] == -32602 and field in refused["error"]["message"], refused
        accepted = await peer.request(2, "initialize", {"capabilities": {}, "rootUri": repo.as_uri()})
        assert "result" in accepted
    finally:
        await peer.close()


async def test_a_request_before_initialize_is_answered_not_initialized(repo: Path) -> None:
    peer = await RawPeer.start(repo, initialize=False)
    try:
        early = await peer.request(1, "scribe/status", {})
        assert early["error"]["code"] == -32002
        assert "result" in await peer.request(2, "initialize", {"capabilities": {}, "rootUri": repo.as_uri()})
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootUri":"\xff"}}', -32700),
        (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":' + b"[" * 200 + b"]" * 200 + b"}", -32600),
        (b'[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}]', None),
        (b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"rootUri":"' + HUGE_ROOT + b'"}}', -32602),
    ],
    ids=["cut short", "not UTF-8", "too deep", "in a batch", "a huge root"],
)  # fmt: skip
async def test_a_hostile_first_message_is_answered_and_the_server_goes_on(
    repo: Path, first: bytes, code: int | None
) -> None:
    """What the early path reads first is anyone's bytes: each gets its answer (the same as
    any later message would), and a real initialize after it is answered."""
    peer = await RawPeer.start(repo, initialize=False)
    try:
        await peer.send(first, raw=False)
        answer = await peer.next()
        if code is not None:
            answer = answer[0] if isinstance(answer, list) else answer
            assert answer["error"]["code"] == code, answer
        accepted = await peer.request(2, "initialize", {"capabilities": {}, "rootUri": repo.as_uri()})
        assert "result" in accepted or accepted["error"]["code"] == -32600, (
            accepted
        )  # a batch's initialize took it
    finally:
        await peer.close()
    assert "Traceback" not in peer.stderr_text()


async def test_a_first_frame_over_the_limit_is_refused_without_allocating(repo: Path) -> None:
    peer = await RawPeer.start(repo, initialize=False)
    try:
        await peer.send(b"Content-Length: 100000000000\r\n\r\n{", raw=True)
        answer = await peer.next()
        assert answer["error"]["code"] == -32600 and "over the limit" in answer["error"]["message"]
        assert await asyncio.wait_for(peer.proc.wait(), 10) == 1  # stdio's one client: the process ends
    finally:
        await peer.close()
    assert "MemoryError" not in peer.stderr_text()
