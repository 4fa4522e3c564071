"""Fuzz every method over the wire: whatever the params, one answer, a result or one of the
codes the protocol names, and the server goes on. Fixed seed (derandomized) in CI."""

from __future__ import annotations

import json
import os
import select
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scribe_ls.rpc.methods import METHODS, REQUEST_FIELDS, REQUESTS

from .helpers import SERVER, make_git_repo

pytestmark = pytest.mark.timeout(300)

EXAMPLES = int(os.environ.get("SCRIBE_FUZZ_EXAMPLES", "100"))
ALLOWED = {-32600, -32601, -32602, -32010, -32011, -32012, -32013}
ANSWER_TIMEOUT = 10.0

# The fields each method reads, so the fuzzer hits the checks, not only "unknown key".

odd_chars = st.sampled_from(["\ud800", "\udfff", "\x00", "\n", "\u2028", "é", "🙂", '"', "/"])
odd_strings = st.sampled_from(["B-", "../../etc", "B-١٢٣", "a\ud800b", " ", "", "x" * 70000])
strings = st.one_of(st.text(alphabet=st.one_of(st.characters(), odd_chars), max_size=40), odd_strings)
plausible = st.sampled_from(
    [
        "B-1",
        "B-4242",
        "note",
        "decision",
        "active",
        "paused",
        "completed",
        "json",
        "markdown",
        "git",
        "s-000000000000",
    ]
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), strings, plausible,
)  # fmt: skip
nested_message = st.fixed_dictionaries(
    {
        "jsonrpc": st.just("2.0"),
        "id": st.integers(0, 9),
        "method": st.sampled_from(["exit", "shutdown", "initialize"]),
    }
)
json_values = st.recursive(
    st.one_of(scalars, nested_message),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(strings, inner, max_size=4)),
    max_leaves=12,
)


def params_for(method: str) -> st.SearchStrategy[Any]:
    known = st.fixed_dictionaries({}, optional={name: json_values for name in REQUEST_FIELDS[method]})
    extra = st.dictionaries(
        st.sampled_from(["jsonrpc", "id", "method", "params", "x"]), json_values, max_size=2
    )
    shaped = st.builds(lambda a, b: {**b, **a}, known, extra)
    return st.one_of(shaped, shaped, json_values)


class Server:
    """One real server on stdio, read with timeouts (a hang fails, it never blocks CI)."""

    def __init__(self, root: Path) -> None:
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            SERVER, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log
        )
        self.buffer = b""
        self.next_id = 0

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read_message(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if sep:
                headers = dict(line.split(b":", 1) for line in head.split(b"\r\n") if b":" in line)
                length = int(headers[b"Content-Length"])
                if len(rest) >= length:
                    self.buffer = rest[length:]
                    return json.loads(rest[:length])
            ready, _, _ = select.select([fd], [], [], ANSWER_TIMEOUT)
            if not ready:
                raise TimeoutError("no answer within 10 s: the server hangs")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"the server died (exit {self.proc.wait()})")
            self.buffer += chunk

    def request(self, method: str, params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg_id = self.next_id
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        while True:
            message = self._read_message()
            if "method" in message and "id" in message:  # progress token request
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif message.get("id") == msg_id:
                return message

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.send({"jsonrpc": "2.0", "method": "exit"})
            self.proc.wait(10)
        except (OSError, TimeoutError, EOFError):
            self.proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    repo = make_git_repo(tmp_path_factory.mktemp("fuzz") / "repo")
    server = Server(repo)
    answer = server.request("initialize", {"capabilities": {}, "rootUri": repo.as_uri()})
    assert "result" in answer
    server.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    yield server
    server.close()
    server.log.seek(0)
    log = server.log.read().decode("utf-8", "replace")
    assert "Traceback" not in log, log[-3000:]


def test_every_request_lists_the_fields_it_reads() -> None:
    assert set(REQUEST_FIELDS) == set(REQUESTS)


def check(answer: dict[str, Any]) -> None:
    if "error" in answer:
        error = answer["error"]
        assert error["code"] in ALLOWED, error
        assert "traceback" not in json.dumps(error).lower()
    else:
        assert "result" in answer


@pytest.mark.parametrize("method", sorted(REQUEST_FIELDS))
def test_fuzz_method(server: Server, method: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(params=params_for(method))
    def run(params: Any) -> None:
        check(server.request(method, params))

    run()
    assert "result" in server.request("scribe/status", {})


def test_fuzz_commands(server: Server) -> None:
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None)
    @given(
        command=st.one_of(st.sampled_from([m.command for m in METHODS]), strings),
        arguments=st.one_of(st.lists(json_values, max_size=3), json_values),
    )
    def run(command: Any, arguments: Any) -> None:
        check(server.request("workspace/executeCommand", {"command": command, "arguments": arguments}))

    run()
    assert "result" in server.request("scribe/status", {})
