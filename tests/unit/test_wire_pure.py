"""The wire's pure parts: frames read from any split of the input, the JSON-RPC envelope's
rules, nesting depth, and group commit with a fake commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from scribe_ls.core.group_commit import GroupCommit
from scribe_ls.errors import INVALID_REQUEST
from scribe_ls.rpc import framing


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def reader(data: bytes, chunk: int, max_bytes: int = 1 << 20) -> framing.FrameReader:
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]

    async def read(_: int) -> bytes:
        return pieces.pop(0) if pieces else b""

    return framing.FrameReader(read, max_bytes)


async def bodies(source: framing.FrameReader) -> list[bytes]:
    found = []
    while (body := await source.next_body()) is not None:
        found.append(body)
    return found


@pytest.mark.parametrize("chunk", [1, 2, 7, 64, 4096])
async def test_frames_come_whole_however_the_input_is_split(chunk: int) -> None:
    messages = [b'{"a":1}', '{"é":"ü"}'.encode(), b"{}" * 100]
    assert await bodies(reader(b"".join(frame(m) for m in messages), chunk)) == messages


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"garbage" + frame(b"{}"), [b"{}"]),  # junk before a header is skipped
        (b"Content-Length: 10\r\n\r\n{}" + frame(b"[1]"), [b"{}", b"[1]"]),  # declared too long
        (frame(b"{}")[:-1], []),  # cut short at the end: nothing half-read is handed on
        (b"", []),
    ],
)
async def test_a_broken_stream_resynchronises_on_the_next_header(data: bytes, expected: list[bytes]) -> None:
    # Read as a client writes: a frame at a time (a frame declared too long is cut at the
    # next header only when that header has arrived with it).
    assert await bodies(reader(data, 4096)) == expected


async def test_a_frame_over_the_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(framing.MessageTooLarge):
        await reader(b"Content-Length: 2000\r\n\r\n" + b" " * 2000, 100, max_bytes=1000).next_body()


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"jsonrpc": "1.0", "id": 1, "method": "x"}, 'jsonrpc must be "2.0"'),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "x"}, "id must be a string or an integer"),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, "method must be a string"),
        ({"jsonrpc": "2.0", "id": 1}, "method is missing"),
        ({"jsonrpc": "2.0", "id": None, "method": "x"}, "id must be a string or an integer"),
        ([], "an empty batch"),
        (7, "expected a JSON object"),
    ],
)
def test_an_envelope_that_breaks_json_rpc_is_answered_invalid_request(message: Any, problem: str) -> None:
    verdict = framing.check_envelope(message)
    assert verdict.message is None
    (answer,) = verdict.answers
    assert answer["error"]["code"] == INVALID_REQUEST
    assert problem in answer["error"]["message"]


def test_params_sent_as_an_empty_array_mean_an_empty_object() -> None:
    verdict = framing.check_envelope({"jsonrpc": "2.0", "id": 1, "method": "x", "params": []})
    assert verdict.message is not None and verdict.message["params"] == {}


@pytest.mark.parametrize(
    ("depth", "refused"), [(1, False), (framing.MAX_DEPTH, False), (framing.MAX_DEPTH + 1, True)]
)
def test_nesting_past_the_limit_is_refused(depth: int, refused: bool) -> None:
    body = "[" * depth + "]" * depth
    if refused:
        with pytest.raises(framing.TooDeep):
            framing.decode_body(body)
    else:
        assert framing.nesting_depth(json.loads(body)) == depth


async def test_writes_that_queue_during_a_commit_share_the_next_and_fail_alone() -> None:
    groups: list[list[int]] = []
    committing = asyncio.Event()

    async def commit(items: Sequence[int]) -> list[int | BaseException]:
        groups.append(list(items))
        committing.set()
        await asyncio.sleep(0.01)
        return [ValueError(f"bad {i}") if i < 0 else i * 10 for i in items]

    group: GroupCommit[int, int] = GroupCommit(commit, max_group=3)
    first = asyncio.ensure_future(group.submit(1))
    await committing.wait()  # the first write of a quiet moment is committed at once, alone
    rest = [group.submit(i) for i in (2, -3, 4, 5)]
    results = await asyncio.gather(first, *rest, return_exceptions=True)
    assert results[:2] == [10, 20] and results[3:] == [40, 50]
    assert isinstance(results[2], ValueError), "one bad write fails alone"
    assert groups == [[1], [2, -3, 4], [5]], "the first goes at once; the rest share, at most 3 a group"


async def test_a_failed_commit_fails_every_write_of_its_group() -> None:
    async def commit(items: Sequence[int]) -> list[int | BaseException]:
        raise OSError("disk full")

    group: GroupCommit[int, int] = GroupCommit(commit)
    results = await asyncio.gather(group.submit(1), group.submit(2), return_exceptions=True)
    assert all(isinstance(r, OSError) for r in results)
