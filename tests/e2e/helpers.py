"""What the end-to-end tests share: real git repositories in temp dirs, the real CLI and
server processes, a dashboard, and the pushes a client hears."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCResponseMessage
from pytest_lsp import LanguageClient
from pytest_lsp.client import register_lsp_features

ROOT = Path(__file__).resolve().parents[2]
LEGACY = ROOT / "tests" / "data" / "legacy"


BRANCH = "feature/B-4242-x"


SERVER = [sys.executable, "-m", "scribe_ls", "serve"]


PUSH_TIMEOUT = 5.0


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail (not hang) after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def make_git_repo(path: Path, branch: str = BRANCH) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    (path / "README.md").write_text("# demo\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


def files_outside_scribe(root: Path) -> set[str]:
    """Every file in the work tree except .git/ and .scribe/ (what we must never touch)."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in (".git", ".scribe")]
        for name in filenames:
            found.add(str(Path(dirpath, name).relative_to(root)))
    return found


async def port_listening(port: int, seconds: float = 10) -> None:
    """Wait until a server that is starting accepts connections on 127.0.0.1:``port``."""
    for _ in range(int(seconds / 0.05)):
        try:
            _, probe = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        probe.close()
        return
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {seconds:.0f} s")


async def start_dashboard(repo: Path, token: str) -> tuple[asyncio.subprocess.Process, int]:
    """``scribe-ls dashboard`` for ``repo`` on a free port with ``token``, listening."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scribe_ls", "dashboard", "--port", str(port), cwd=repo,
        stderr=asyncio.subprocess.DEVNULL, env={**os.environ, "SCRIBE_LS_TOKEN": token},
    )  # fmt: skip
    await port_listening(port)
    return server, port


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure(repo: Path, text: str) -> None:
    """Write ``.scribe/config.toml`` (the settings a server or a verb started later reads)."""
    (repo / ".scribe").mkdir(exist_ok=True)
    (repo / ".scribe" / "config.toml").write_text(text)


def linked_worktrees(repo: Path, second: Path) -> Path:
    """``repo`` plus a linked worktree at ``second`` on feature/B-5555-other, sharing the
    committed shared.py, both recording saves after 0.2 s; returns ``second``."""
    (repo / "shared.py").write_text("x = 0\n")
    git(repo, "add", "shared.py")
    git(repo, "commit", "-q", "-m", "shared")
    git(repo, "worktree", "add", "-q", str(second), "-b", "feature/B-5555-other")
    for root in (repo, second):
        configure(root, "activity_window = 0.2\n")
    return second


TOKEN = "a-test-token-for-the-dashboard"


class Dashboard:
    """A running `scribe-ls dashboard` process for one repository."""

    def __init__(self, root: Path, port: int = 0, token: str = TOKEN) -> None:
        self.root = root
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scribe_ls", "dashboard", "--port", str(port), "--token", token],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        deadline = time.monotonic() + 20
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            if found := re.search(r"at (http://127\.0\.0\.1:(\d+)/#token=\S+)", line):
                self.url, self.port = found[1], int(found[2])
                return
        self.stop()
        raise AssertionError("the dashboard did not print its URL")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def rpc(self, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """The answers to ``calls`` over the dashboard's own WebSocket, as its page makes
        them (its Origin, the token in ``initialize``)."""
        import json

        from websockets.sync.client import connect

        own = f"127.0.0.1:{self.port}"
        answers = []
        with connect(f"ws://{own}/rpc", origin=f"http://{own}", open_timeout=5) as ws:  # type: ignore[arg-type]
            init = {"capabilities": {}, "initializationOptions": {"token": TOKEN}}
            ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init}))
            assert "result" in json.loads(ws.recv(timeout=10))
            for index, (method, params) in enumerate(calls, start=1):
                ws.send(json.dumps({"jsonrpc": "2.0", "id": index, "method": method, "params": params}))
                while "id" not in (answer := json.loads(ws.recv(timeout=10))) or answer["id"] != index:
                    pass  # a push
                answers.append(answer)
        return answers


def run_cli(
    root: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``scribe-ls ARGS`` in ``root`` (``env``: the whole environment, if not this one's)."""
    return subprocess.run(
        [sys.executable, "-m", "scribe_ls", *args],
        cwd=root,
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=30,
    )


class Pushes:
    """Collects the server's custom notifications. pytest-lsp's wait_for_notification does
    resolve custom methods, but only for pushes that arrive after the wait began; each
    method here feeds a queue, so a push that came before the test awaited it is kept, and
    every wait has a timeout (a missing push fails fast instead of hanging CI)."""

    METHODS = ("scribe/sessionChanged", "scribe/entryAdded", "scribe/activity", "scribe/summaryReady")

    def __init__(self, client: LanguageClient) -> None:
        self.queues: dict[str, asyncio.Queue[Any]] = defaultdict(asyncio.Queue)
        for method in self.METHODS:
            client.feature(method)(self._handler(method))

    def _handler(self, method: str) -> Callable[[Any], None]:
        def handle(params: Any) -> None:
            self.queues[method].put_nowait(params)

        return handle

    async def next(self, method: str, timeout: float = PUSH_TIMEOUT) -> Any:
        return await asyncio.wait_for(self.queues[method].get(), timeout)

    async def until(
        self, method: str, predicate: Callable[[Any], bool], timeout: float = PUSH_TIMEOUT
    ) -> Any:
        async def wait() -> Any:
            while True:
                params = await self.queues[method].get()
                if predicate(params):
                    return params

        return await asyncio.wait_for(wait(), timeout)

    def pending(self, method: str) -> int:
        return self.queues[method].qsize()


def init_params(root: Path, options: dict[str, Any] | None = None) -> types.InitializeParams:
    uri = root.as_uri()
    return types.InitializeParams(
        capabilities=types.ClientCapabilities(window=types.WindowClientCapabilities(work_done_progress=True)),
        root_uri=uri,
        workspace_folders=[types.WorkspaceFolder(uri=uri, name=root.name)],
        initialization_options=options,
    )


def _plain_json_converter() -> Any:
    # pygls turns untyped results and notification params into namedtuples; tests compare
    # against the JSON a real client would see, so keep them as plain dicts and lists.
    converter = default_converter()
    for message_type in (JsonRPCResponseMessage, JsonRPCNotification):
        converter.register_structure_hook(message_type, lambda obj, cls: cls(**obj))
    return converter


def make_client() -> LanguageClient:
    client = LanguageClient(converter_factory=_plain_json_converter)
    register_lsp_features(client)
    return client


async def call(client: LanguageClient, method: str, params: Any = None) -> Any:
    """A custom request; the result comes back as plain JSON (dicts and lists)."""
    return await asyncio.wait_for(client.protocol.send_request_async(method, params), 10)


def drop_tables_after(db: Any, version: int) -> None:
    """Drop what the migrations after ``version`` created (those that only create tables),
    as a store written by that release holds it; the caller sets ``user_version``."""
    import re

    from scribe_ls.store import schema

    for later in range(schema.SCHEMA_VERSION, version, -1):
        for table in re.findall(r"CREATE TABLE (\w+)", schema.MIGRATIONS[later]):
            db.execute(f"DROP TABLE IF EXISTS {table}")
