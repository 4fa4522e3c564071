"""Before login, a TCP client is anyone on the machine: it gets a deadline, a small frame
limit and a bounded number of places; whoever holds the token opens only the repositories
the server was started for; the token can come from a private file instead of the command
line, where every local user can read it."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.rpc import transports
from scribe_ls.rpc.client import ScribeClient, encode_frame

from .helpers import SERVER, free_port, make_git_repo, port_listening, run_cli, start_dashboard
from .rawrpc import frame, read_message

pytestmark = pytest.mark.timeout(90)

TOKEN = "login-test-token-0123456789"


class TcpServer:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Any) -> None:
        self.proc, self.port, self._log = proc, port, log

    def log_text(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)


async def start_tcp(repo: Path, *extra: str) -> TcpServer:
    port = free_port()
    log = tempfile.TemporaryFile()
    proc = await asyncio.create_subprocess_exec(
        *SERVER, "--tcp", f"127.0.0.1:{port}", *extra, cwd=repo, stderr=log,
        env={**os.environ, "SCRIBE_LS_TOKEN": TOKEN},
    )  # fmt: skip
    await port_listening(port)
    return TcpServer(proc, port, log)


@pytest.fixture
async def tcp(repo: Path) -> AsyncIterator[TcpServer]:
    server = await start_tcp(repo)
    yield server
    server.proc.terminate()
    await server.proc.wait()


async def closed(reader: asyncio.StreamReader, timeout: float) -> bool:
    """Whether the server closes the connection within ``timeout`` (what it sends first is
    read and dropped)."""
    try:
        while await asyncio.wait_for(reader.read(65536), timeout):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def initialize(root: Path, token: str = TOKEN) -> dict[str, Any]:
    params = {"capabilities": {}, "rootUri": root.as_uri(), "initializationOptions": {"token": token}}
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


async def test_a_connection_that_never_logs_in_is_closed_after_the_deadline(
    tcp: TcpServer, repo: Path
) -> None:
    idle_reader, _ = await tcp.connect()
    assert not await closed(idle_reader, transports.LOGIN_DEADLINE - 3)  # not before it
    assert await closed(idle_reader, 8)  # and soon after
    # A client that logged in is not bound by the deadline.
    client = await ScribeClient.connect("127.0.0.1", tcp.port, repo, token=TOKEN)
    await asyncio.sleep(transports.LOGIN_DEADLINE + 1)
    assert "result" in {"result": await client.request("scribe/status", {})}
    await client.close()
    assert tcp.log_text().count("did not log in within") == 1


async def test_before_login_a_frame_is_small_and_after_it_full_size(tcp: TcpServer, repo: Path) -> None:
    reader, writer = await tcp.connect()
    big = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"x":"' + b"a" * 300_000 + b'"}}'
    writer.write(encode_frame(big))
    answer = await read_message(reader)
    assert answer["error"]["code"] == -32600
    assert f"over the limit of {transports.PRE_LOGIN_MAX_BYTES} bytes" in answer["error"]["message"]
    assert await closed(reader, 5)
    # Logged in, a message of the same size is an ordinary one.
    client = await ScribeClient.connect("127.0.0.1", tcp.port, repo, token=TOKEN)
    await client.request("scribe/startSession", {})
    entry = await client.request("scribe/appendEntry", {"text": "big", "extra": "a" * 300_000})
    assert entry["text"] == "big"
    await client.close()


async def test_a_flood_of_idle_connections_never_keeps_a_real_client_out(tcp: TcpServer, repo: Path) -> None:
    flood = [await tcp.connect() for _ in range(transports.MAX_PENDING_LOGINS * 3)]
    # The oldest waiting ones were closed as the new ones came; the newest still wait.
    # (Each is waited for up to 10 s: a loaded machine takes a while to accept 96.)
    closed_now = [await closed(reader, 10) for reader, _ in flood[: transports.MAX_PENDING_LOGINS]]
    assert all(closed_now)
    # A real client gets in at once, and is served while the flood goes on.
    client = await ScribeClient.connect("127.0.0.1", tcp.port, repo, token=TOKEN)
    more = [await tcp.connect() for _ in range(transports.MAX_PENDING_LOGINS * 2)]
    assert (await client.request("scribe/status", {}))["root"]
    await client.close()
    for _, writer in flood + more:
        writer.close()
    # One log line for the burst, not one per connection.
    assert tcp.log_text().count("closed the oldest connection waiting to log in") == 1


async def test_the_token_opens_only_the_repositories_served(repo: Path, tmp_path: Path) -> None:
    other = make_git_repo(tmp_path / "other")
    (other / ".scribe").mkdir()
    server = await start_tcp(repo)
    try:
        reader, writer = await server.connect()
        writer.write(frame(initialize(other)))
        answer = await read_message(reader)
        assert answer["error"]["code"] == -32602
        assert answer["error"]["message"].startswith(f"rootUri: {other.resolve()} is not served here")
        assert list((other / ".scribe").iterdir()) == []  # its store was never opened
        writer.close()
    finally:
        server.proc.terminate()
        await server.proc.wait()
    # --allow-root names another repository clients may open.
    server = await start_tcp(repo, "--allow-root", str(other))
    try:
        client = await ScribeClient.connect("127.0.0.1", server.port, other, token=TOKEN)
        assert (await client.request("scribe/status", {}))["root"] == str(other)
        await client.close()
    finally:
        server.proc.terminate()
        await server.proc.wait()


async def test_token_file_must_be_private_and_token_on_the_command_line_is_warned(
    repo: Path, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o644)
    port = str(free_port())
    done = run_cli(repo, "serve", "--tcp", f"127.0.0.1:{port}", "--token-file", str(token_file))
    assert done.returncode == 2
    assert f"can be read by others (mode 644); chmod 600 {token_file}" in done.stderr
    token_file.chmod(0o600)
    server = await start_tcp(repo, "--token-file", str(token_file))
    try:
        client = await ScribeClient.connect("127.0.0.1", server.port, repo, token=TOKEN)
        await client.request("scribe/status", {})
        await client.close()
        assert "--token is visible" not in server.log_text()
    finally:
        server.proc.terminate()
        await server.proc.wait()
    help_text = run_cli(repo, "serve", "--help").stdout
    assert "/proc/PID/cmdline" in help_text and "--token-file" in help_text
    server = await start_tcp(repo, "--token", TOKEN)
    try:
        await asyncio.sleep(0.2)
        assert "warning: --token is visible to every local user" in server.log_text()
    finally:
        server.proc.terminate()
        await server.proc.wait()


async def test_burst_log_says_one_line_per_window() -> None:
    from scribe_ls.logs import BurstLog

    records: list[str] = []

    class Keep(__import__("logging").Handler):
        def emit(self, record: Any) -> None:
            records.append(record.getMessage())

    handler = Keep()
    transports.log.addHandler(handler)
    try:
        burst = BurstLog(transports.log, "refused", window=0.2)
        for _ in range(50):
            burst.event()
        assert records == ["refused"]
        await asyncio.sleep(0.25)
        burst.event()
        assert len(records) == 2 and "49 more like it" in records[1]
    finally:
        transports.log.removeHandler(handler)


async def test_the_dashboards_websocket_waits_for_a_login_no_longer_than_tcp(repo: Path) -> None:
    """The dashboard takes its token in initialize: until then a WebSocket is anyone's."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    server, port = await start_dashboard(repo, TOKEN)
    own = f"127.0.0.1:{port}"
    try:
        flood = [
            await connect(f"ws://{own}/rpc", origin=f"http://{own}")  # type: ignore[arg-type]
            for _ in range(transports.MAX_PENDING_LOGINS + 8)
        ]
        # The 8 oldest were closed to make room; the newest wait, until their deadline.
        for ws in flood[:8]:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(flood[-1].recv(), transports.LOGIN_DEADLINE + 5)
        for ws in flood:
            await ws.close()
    finally:
        server.terminate()
        await server.wait()


async def test_wrong_tokens_are_logged_once_per_burst(tcp: TcpServer, repo: Path) -> None:
    for _ in range(20):
        reader, writer = await tcp.connect()
        writer.write(frame(initialize(repo, token="guess-guess-guess")))
        answer = await read_message(reader)
        assert answer["error"]["code"] == -32014
        writer.close()
    assert tcp.log_text().count("refused a connection without the right token") == 1
