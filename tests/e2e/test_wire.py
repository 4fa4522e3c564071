"""Wire-level behaviour a generic client relies on, using raw frames and scribe_ls.rpc.client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from scribe_ls.errors import ScribeError
from scribe_ls.rpc.client import ScribeClient, SyncClient

from .helpers import SERVER, free_port, git
from .rawrpc import frame, read_message

pytestmark = pytest.mark.timeout(60)


async def read_response(reader: asyncio.StreamReader, msg_id: object) -> dict:
    while True:
        message = await read_message(reader)
        if message.get("id") == msg_id and "method" not in message:
            return message


async def test_requests_without_params_member_are_answered(repo: Path) -> None:
    """Neovim's request(method, nil) and vscode-jsonrpc's sendRequest(method) omit params;
    pygls 2.1.1 would never answer them."""
    proc = await asyncio.create_subprocess_exec(
        *SERVER, cwd=repo, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdin and proc.stdout
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"capabilities": {}, "rootUri": repo.as_uri()},
    }
    proc.stdin.write(frame(json.dumps(init).encode()))
    assert "capabilities" in (await read_response(proc.stdout, 1))["result"]
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","method":"initialized","params":{}}'))

    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":2,"method":"scribe/status"}'))
    assert (await read_response(proc.stdout, 2))["result"]["root"] == str(repo)

    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":3,"method":"scribe/startSession"}'))
    assert (await read_response(proc.stdout, 3))["result"]["backlogId"] == "B-4242"

    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":4,"method":"scribe/unknownThing"}'))
    assert (await read_response(proc.stdout, 4))["error"]["code"] == -32601

    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":5,"method":"scribe/appendEntry"}'))
    error = (await read_response(proc.stdout, 5))["error"]
    assert error["code"] == -32602 and error["message"].startswith("text:")

    # Malformed JSON, a non-object, and a body that is not UTF-8 do not stop the server.
    for junk in (b"{not json", b"[1,2", b"\xff\xfe", b'"just a string"'):
        proc.stdin.write(frame(junk))
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":6,"method":"scribe/status","params":null}'))
    assert (await read_response(proc.stdout, 6))["result"]["sessions"]["active"] == 1

    # initialize params that cannot be structured still get an answer (not silence).
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":7,"method":"initialize","params":{"capabilities":5}}'))
    assert (await read_response(proc.stdout, 7))["error"]["code"] == -32602

    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":8,"method":"shutdown"}'))
    assert (await read_response(proc.stdout, 8))["result"] is None
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","method":"exit"}'))
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_exit_without_shutdown_is_code_one(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    client.notify("exit")
    assert client.process is not None
    assert await asyncio.wait_for(client.process.wait(), 10) == 1


async def test_closing_stdin_ends_the_server(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    assert client.process is not None and client.process.stdin is not None
    client.process.stdin.close()
    await asyncio.wait_for(client.process.wait(), 10)


async def test_notifications_false_silences_pushes(repo: Path) -> None:
    quiet = await ScribeClient.spawn(repo, initialization_options={"notifications": False})
    loud = await ScribeClient.spawn(repo)
    try:
        await quiet.request("scribe/startSession", {})
        await quiet.request("scribe/appendEntry", {"text": "shh"})
        # The request answers came back, so any push from that process came first.
        assert quiet.drain_notifications() == []
        await loud.request("scribe/appendEntry", {"text": "hello"})
        # The loud client may first see the quiet one's entries relayed from the store.
        quiet_entries = {"Session started", "Branch: feature/B-4242-x", "shh"}
        seen = [(await loud.next_notification("scribe/entryAdded"))["entry"]["text"]]
        while seen[-1] != "hello" and len(seen) <= len(quiet_entries):
            seen.append((await loud.next_notification("scribe/entryAdded"))["entry"]["text"])
        assert seen[-1] == "hello"
        assert set(seen[:-1]) <= quiet_entries
        assert quiet.drain_notifications() == []
    finally:
        assert await quiet.close() == 0
        assert await loud.close() == 0


async def test_bad_initialization_options_name_the_field(repo: Path) -> None:
    client = await ScribeClient.spawn(repo, initialize=False)
    with pytest.raises(ScribeError) as info:
        await client.initialize(repo, {"notifications": "yes"})
    assert info.value.code == -32602
    assert info.value.message.startswith("initializationOptions.notifications:")
    with pytest.raises(ScribeError) as info:
        await client.request("scribe/status", {})
    assert info.value.code == -32002
    await client.close()


async def test_tcp_serves_several_clients_over_one_service(repo: Path) -> None:
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        *SERVER, "--tcp", f"127.0.0.1:{port}", "--token", "t0ken", cwd=repo
    )
    try:
        for _ in range(100):
            try:
                first = await ScribeClient.connect("127.0.0.1", port, repo, token="t0ken")
                break
            except OSError:
                await asyncio.sleep(0.05)
        second = await ScribeClient.connect("127.0.0.1", port, repo, token="t0ken")
        session = await first.request("scribe/startSession", {})
        await second.request("scribe/appendEntry", {"text": "from the second client"})
        # Both connections hear both changes: one service, two clients.
        for client in (first, second):
            changed = await client.next_notification("scribe/sessionChanged")
            assert changed["session"]["id"] == session["id"]

            async def added(c: ScribeClient = client) -> dict:
                while True:
                    params = await c.next_notification("scribe/entryAdded")
                    if params["entry"]["text"] == "from the second client":
                        return params

            await asyncio.wait_for(added(), 5)
        # One client leaving does not stop the server for the other.
        await first.close()
        assert (await second.request("scribe/status", {}))["sessions"]["active"] == 1
        await second.close()
    finally:
        server.terminate()
        await server.wait()


def test_sync_client_for_scripts(repo: Path) -> None:
    with SyncClient.spawn(repo) as client:
        assert client.initialize_result is not None
        session = client.request("scribe/startSession", {"title": "from a script"})
        client.request("scribe/appendEntry", {"text": "blocking call"})
        entries = client.request("scribe/getEntries", {"sessionId": session["id"]})["entries"]
        assert entries[-1]["text"] == "blocking call"
        with pytest.raises(ScribeError) as info:
            client.request("scribe/getEntries", {})
        assert info.value.code == -32602


async def test_unusable_store_is_a_clear_error(repo: Path) -> None:
    (repo / ".scribe").write_text("a file where the store directory should be")
    client = await ScribeClient.spawn(repo, initialize=False)
    # initialize still succeeds: a client learns what is wrong instead of a chain of -32002.
    await client.initialize(repo)
    shown = await client.next_notification("window/showMessage")
    while shown["type"] != 1:  # warnings first (the config in .scribe/ cannot be read either)
        shown = await client.next_notification("window/showMessage")
    assert ".scribe" in shown["message"] and "store unavailable" in shown["message"]
    with pytest.raises(ScribeError) as info:
        await client.request("scribe/startSession", {})
    assert info.value.code == -32013 and ".scribe" in info.value.message
    assert (await client.request("scribe/status", {}))["storeError"] == info.value.message
    await client.close()


async def test_a_flood_of_pipelined_requests_is_answered_in_full(repo: Path) -> None:
    """Far more requests than MAX_IN_FLIGHT, written without waiting: the server slows its
    reading instead of piling up work, and every request still gets its answer."""
    proc = await asyncio.create_subprocess_exec(
        *SERVER, cwd=repo, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24
    )
    assert proc.stdin and proc.stdout
    init = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"capabilities": {}, "rootUri": repo.as_uri()},
    }
    proc.stdin.write(frame(json.dumps(init).encode()))
    await read_response(proc.stdout, 0)
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":1,"method":"scribe/startSession","params":{}}'))
    await read_response(proc.stdout, 1)
    count = 2000
    burst = b"".join(
        frame(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 10 + n,
                    "method": "scribe/appendEntry",
                    "params": {"text": f"flood {n}"},
                }
            ).encode()
        )
        for n in range(count)
    )
    proc.stdin.write(burst)
    answered: set[int] = set()

    async def drain_input() -> None:
        await proc.stdin.drain()

    writer = asyncio.ensure_future(drain_input())
    while len(answered) < count:
        message = await read_message(proc.stdout)
        if "id" in message and "method" not in message:
            assert "result" in message, message
            answered.add(message["id"])
    await writer
    assert answered == set(range(10, 10 + count))
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","id":5,"method":"shutdown"}'))
    await read_response(proc.stdout, 5)
    proc.stdin.write(frame(b'{"jsonrpc":"2.0","method":"exit"}'))
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_server_started_in_the_workspace_keeps_git_status_clean(repo: Path) -> None:
    """Editors start the server with the workspace as cwd; its log file and store must not
    show up as untracked files."""
    client = await ScribeClient.spawn(repo)  # cwd=repo
    try:
        await client.request("scribe/startSession", {})
        await client.request("scribe/appendEntry", {"text": "x"})
    finally:
        await client.close()
    assert (repo / ".scribe" / "scribe.log").exists()
    assert (repo / ".scribe" / ".gitignore").is_file()  # the store's own, not .git/info/exclude
    assert git(repo, "status", "--porcelain") == ""


def test_sessions_carry_their_worklog_path_and_status_its_current_session(repo: Path) -> None:
    with SyncClient.spawn(repo) as client:
        assert client.request("scribe/status", {})["currentSession"] is None
        session = client.request("scribe/startSession", {})
        client.request("scribe/appendEntry", {"text": "where is my worklog?"})
        worklog = Path(session["worklogPath"])
        assert worklog == repo / ".scribe" / "worklogs" / "B-4242.md"
        assert "where is my worklog?" in worklog.read_text()
        status = client.request("scribe/status", {})
        assert status["currentSession"]["id"] == session["id"] == status["currentSessionId"]
        assert status["currentSession"]["worklogPath"] == session["worklogPath"]


async def test_what_generic_clients_send_is_accepted_without_a_log_line(repo: Path) -> None:
    """Eglot, Helix and friends send saves, settings, ranged changes and cancellations of
    requests already answered; none of it is worth a warning, and an unknown command is
    answered -32602."""
    from .rawrpc import RawPeer

    peer = await RawPeer.start(repo)
    uri = (repo / "a.txt").as_uri()
    first_char = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 1}}
    for method, params in (
        ("textDocument/didSave", {"textDocument": {"uri": uri}}),
        ("workspace/didChangeConfiguration", {"settings": {"scribe": {}}}),
        (
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": 2},
                "contentChanges": [{"range": first_char, "text": "y"}],
            },
        ),
        ("window/workDoneProgress/cancel", {"token": "long-gone"}),
        ("$/cancelRequest", {"id": 999}),
    ):
        await peer.send({"jsonrpc": "2.0", "method": method, "params": params})
    unknown = await peer.request(
        5, "workspace/executeCommand", {"command": "scribe.nothing", "arguments": []}
    )
    assert unknown["error"]["code"] == -32602
    assert "result" in await peer.request(6, "scribe/status", {})
    await peer.request(7, "shutdown")
    await peer.send({"jsonrpc": "2.0", "method": "exit"})
    assert await asyncio.wait_for(peer.proc.wait(), 10) == 0
    noisy = [line for line in peer.stderr_text().splitlines() if " WARNING " in line or " ERROR " in line]
    assert noisy == [] and "Traceback" not in peer.stderr_text()


async def test_a_minimal_initialize_without_capabilities_is_accepted(repo: Path) -> None:
    from .rawrpc import RawPeer

    peer = await RawPeer.start(repo, initialize=False)
    answer = await peer.request(1, "initialize", {"processId": None, "rootUri": repo.as_uri()})
    assert answer["result"]["capabilities"]["experimental"]["scribe"]["version"] == 1
    await peer.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    assert (await peer.request(2, "scribe/status", {}))["result"]["root"] == str(repo)
    await peer.request(3, "shutdown")
    await peer.send({"jsonrpc": "2.0", "method": "exit"})
    assert await asyncio.wait_for(peer.proc.wait(), 10) == 0
    assert " WARNING " not in peer.stderr_text() and "Traceback" not in peer.stderr_text()


async def test_params_as_an_empty_array_mean_an_empty_object(repo: Path) -> None:
    """Lua's ``{}`` encodes as ``[]`` (Neovim 0.7's client sends it): read as ``{}``; what is
    then missing is named the way the wire spells it."""
    from .rawrpc import RawPeer

    peer = await RawPeer.start(repo)
    try:
        assert (await peer.request(2, "scribe/startSession", []))["result"]["backlogId"] == "B-4242"
        assert (await peer.request(3, "scribe/status", []))["result"]["currentSession"] is not None
        missing = await peer.request(4, "workspace/executeCommand", [])
        assert missing["error"]["code"] == -32602 and "$.params.command" in missing["error"]["message"]
        await peer.send({"jsonrpc": "2.0", "method": "textDocument/didSave", "params": []})
        assert "result" in await peer.request(5, "scribe/status", {})  # and it carries on
    finally:
        await peer.close()
    assert "$.params.textDocument" in peer.stderr_text() and "Traceback" not in peer.stderr_text()
