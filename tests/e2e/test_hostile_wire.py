"""Odd bytes on the wire: every request gets exactly one answer and the server goes on."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from .helpers import SERVER, configure, free_port
from .rawrpc import RawPeer, frame, read_message

pytestmark = pytest.mark.timeout(60)


async def still_answers(peer: RawPeer, msg_id: object = "alive") -> None:
    answer = await peer.request(msg_id, "scribe/status", {})
    assert "result" in answer, answer


async def test_nested_jsonrpc_keys_are_plain_data(repo: Path) -> None:
    """A params object holding something shaped like a message is data, not a message."""
    peer = await RawPeer.start(repo)
    try:
        await peer.request(2, "scribe/startSession", {})
        nested = {"jsonrpc": "2.0", "id": 99, "method": "exit", "params": {"jsonrpc": "2.0"}}
        answer = await peer.request(
            3, "scribe/appendEntry", {"text": "nested keys", "extra": nested, "files": ["a.py"]}
        )
        assert answer["result"]["text"] == "nested keys"
        answer = await peer.request(4, "scribe/getContext", {"sections": ["session"], "x": {"jsonrpc": 1}})
        assert answer["result"]["sections"]["session"]["ok"]
        await still_answers(peer)
    finally:
        await peer.close()


async def test_framing_errors_resynchronise(repo: Path) -> None:
    peer = await RawPeer.start(repo)
    try:
        # Header names are case-insensitive.
        body = json.dumps({"jsonrpc": "2.0", "id": 10, "method": "scribe/status"}).encode()
        await peer.send(b"content-length: %d\r\n\r\n" % len(body) + body, raw=True)
        assert "result" in await peer.answer(10)

        # Declared 3 bytes too long: the body runs into the next frame's header. Both
        # requests are answered.
        first = json.dumps({"jsonrpc": "2.0", "id": 11, "method": "scribe/status"}).encode()
        second = frame({"jsonrpc": "2.0", "id": 12, "method": "scribe/status"})
        await peer.send(b"Content-Length: %d\r\n\r\n" % (len(first) + 3) + first + second, raw=True)
        answers = {(await peer.next())["id"], (await peer.next())["id"]}
        assert answers == {11, 12}

        # Declared 3 bytes too short: that request gets a parse error with its id; the
        # leftover bytes are skipped and the next frame is read normally.
        short = json.dumps({"jsonrpc": "2.0", "id": 13, "method": "scribe/status", "params": {}}).encode()
        await peer.send(b"Content-Length: %d\r\n\r\n" % (len(short) - 3) + short, raw=True)
        error = await peer.answer(13)
        assert error["error"]["code"] == -32700
        await still_answers(peer, 14)

        # Junk between frames, a header without a body separator, a non-numeric length.
        await peer.send(b"garbage\r\nContent-Length: x\r\n\r\n{}" + b"\x00\xff" * 10, raw=True)
        await still_answers(peer, 15)

        # A body that is not UTF-8 and a body that is not JSON.
        await peer.send(b"\xff\xfe\xfd")
        assert (await peer.next())["error"]["code"] == -32700
        await peer.send(b'{"jsonrpc":"2.0","id":16,"method":')
        parse = await peer.answer(16)
        assert parse["error"]["code"] == -32700
        await still_answers(peer, 17)
    finally:
        await peer.close()


@pytest.mark.parametrize(
    ("message", "expected_id", "field"),
    [
        ({"jsonrpc": "2.0", "id": 20}, 20, "method"),
        ({"id": 21, "method": "scribe/status"}, 21, "jsonrpc"),
        ({"jsonrpc": "1.0", "id": 22, "method": "scribe/status"}, 22, "jsonrpc"),
        ({"jsonrpc": "2.0", "id": 23, "method": 5}, 23, "method"),
        ({"jsonrpc": "2.0", "id": [1], "method": "scribe/status"}, None, "id"),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "scribe/status"}, None, "id"),
        ({"jsonrpc": "2.0", "id": None, "method": "scribe/status"}, None, "id"),
        ("just a string", None, "object"),
        (42, None, "object"),
    ],
)
async def test_invalid_envelopes_get_one_invalid_request_answer(
    repo: Path, message: object, expected_id: object, field: str
) -> None:
    peer = await RawPeer.start(repo)
    try:
        await peer.send(json.dumps(message))
        answer = await peer.next()
        assert answer["id"] == expected_id
        assert answer["error"]["code"] == -32600
        assert field in answer["error"]["message"]
        await still_answers(peer)
        assert peer.stray == []  # exactly one answer
    finally:
        await peer.close()


async def test_batches_and_requests_after_shutdown(repo: Path) -> None:
    peer = await RawPeer.start(repo)
    try:
        batch = [
            {"jsonrpc": "2.0", "id": 30, "method": "scribe/status"},
            {"jsonrpc": "2.0", "method": "initialized"},
            {"jsonrpc": "2.0", "id": 31, "method": "scribe/status"},
        ]
        await peer.send(json.dumps(batch))
        answer = await peer.next()
        assert isinstance(answer, list)
        assert [a["id"] for a in answer] == [30, 31]
        assert {a["error"]["code"] for a in answer} == {-32600}
        await peer.send("[]")
        assert (await peer.next())["error"]["code"] == -32600

        assert (await peer.request(32, "shutdown"))["result"] is None
        after = await peer.request(33, "scribe/status", {})
        assert after["error"]["code"] == -32600 and "shutting down" in after["error"]["message"]
        await peer.send({"jsonrpc": "2.0", "method": "exit"})
        assert await asyncio.wait_for(peer.proc.wait(), 10) == 0
    finally:
        await peer.close()


async def test_huge_content_length_is_refused_without_allocating(repo: Path) -> None:
    peer = await RawPeer.start(repo)
    try:
        await peer.send(b"Content-Length: 100000000000\r\n\r\n{", raw=True)
        answer = await peer.next()
        assert answer["error"]["code"] == -32600
        assert "over the limit" in answer["error"]["message"]
        # stdio has one client: the connection, and so the process, ends cleanly.
        assert await asyncio.wait_for(peer.proc.wait(), 10) == 1
        assert "MemoryError" not in peer.stderr_text()
    finally:
        await peer.close()


async def test_message_limit_is_configurable(repo: Path) -> None:
    configure(repo, "max_message_bytes = 2048\n")
    peer = await RawPeer.start(repo)
    try:
        await still_answers(peer)
        await peer.send(
            {"jsonrpc": "2.0", "id": 40, "method": "scribe/search", "params": {"query": "x" * 4000}}
        )
        assert "2048" in (await peer.next())["error"]["message"]
    finally:
        await peer.close()


async def test_tcp_refuses_http_and_clients_without_the_token(repo: Path, tmp_path: Path) -> None:
    port = free_port()
    outside = tmp_path / "victim"
    outside.mkdir()
    server = await asyncio.create_subprocess_exec(
        *SERVER,
        "--tcp",
        f"127.0.0.1:{port}",
        "--token",
        "s3cret",
        cwd=repo,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05)
        # What `curl -X POST --data '{...initialize...}'` or a web page's fetch() sends.
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"capabilities": {}, "rootUri": outside.as_uri()},
        }
        body = json.dumps(init).encode()
        writer.write(
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body
        )
        reply = await asyncio.wait_for(reader.read(), 10)
        assert reply.startswith(b"HTTP/1.1 400")
        writer.close()

        # A JSON-RPC client without the token: refused with one answer, then closed.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(frame(init))
        answer = await read_message(reader)
        assert answer["id"] == 1 and answer["error"]["code"] == -32014
        assert "token" in answer["error"]["message"]
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed
        writer.close()

        # A wrong token, likewise.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        init["params"]["initializationOptions"] = {"token": "guess"}
        writer.write(frame(init))
        assert (await read_message(reader))["error"]["code"] == -32014
        writer.close()

        # Nothing was created where the hostile requests pointed.
        assert list(outside.iterdir()) == []
    finally:
        server.terminate()
        await server.wait()


async def test_unix_socket_is_private_and_needs_no_token(repo: Path, tmp_path: Path) -> None:
    import stat

    from scribe_ls.rpc.client import ScribeClient

    sock = tmp_path / "run" / "scribe.sock"
    server = await asyncio.create_subprocess_exec(
        *SERVER, "--socket", str(sock), cwd=repo, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            if sock.exists():
                break
            await asyncio.sleep(0.05)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        client = await ScribeClient.connect_unix(sock, repo)
        session = await client.request("scribe/startSession", {})
        assert session["backlogId"] == "B-4242"
        await client.close()
    finally:
        server.terminate()
        await server.wait()
    assert not sock.exists()  # removed on stop


async def test_unix_socket_refuses_a_directory_it_does_not_own(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    link = tmp_path / "linkdir"
    link.symlink_to(target)
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--socket", str(link / "scribe.sock"), cwd=repo, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1 and b"Traceback" not in err
    assert b"not a directory owned by you" in err
    assert list(target.iterdir()) == []


def test_internal_errors_carry_no_traceback() -> None:
    """A handler that blows up answers -32603 with a short message; the traceback is logged."""
    from scribe_ls.rpc.hub import ServiceHub
    from scribe_ls.rpc.server import ScribeLanguageServer

    sent: list[bytes] = []

    class Writer:
        def write(self, data: bytes) -> None:
            sent.append(data)

        def close(self) -> None:
            pass

    async def run() -> None:
        server = ScribeLanguageServer(ServiceHub(), on_exit=lambda code: None)
        server.protocol.set_writer(Writer())

        @server.feature("scribe/explode")
        async def explode(ls: ScribeLanguageServer, params: object) -> None:
            raise RuntimeError(f"secret path {sys.prefix}")

        server.protocol.receive(b'{"jsonrpc":"2.0","id":7,"method":"scribe/explode","params":{}}')
        for _ in range(20):
            await asyncio.sleep(0.01)

    asyncio.run(run())
    answer = json.loads(sent[-1].split(b"\r\n\r\n", 1)[1])
    assert answer["id"] == 7 and answer["error"]["code"] == -32603
    assert "data" not in answer["error"]
    assert sys.prefix not in answer["error"]["message"]


async def test_unix_socket_refuses_to_replace_a_file_that_is_not_its_socket(
    repo: Path, tmp_path: Path
) -> None:
    directory = tmp_path / "run"
    directory.mkdir(mode=0o700)
    squatter = directory / "scribe.sock"
    squatter.write_text("someone's file\n")
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--socket", str(squatter), cwd=repo, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1 and b"not a socket of yours" in err and b"Traceback" not in err
    assert squatter.read_text() == "someone's file\n"
