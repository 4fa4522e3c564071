"""docs/protocol.md is the contract: it cannot drift from the method table or the server."""

from __future__ import annotations

import re
from pathlib import Path

from scribe_ls import errors
from scribe_ls.core.events import NOTIFICATIONS, SHOW_MESSAGE
from scribe_ls.rpc.client import ScribeClient
from scribe_ls.rpc.methods import METHODS, REQUESTS, markdown

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _block(text: str, name: str) -> str:
    """The fenced block that follows ``**name**``."""
    start = text.index(f"**{name}**")
    return text[text.index("```", start) : text.index("```", text.index("```", start) + 3)]


def test_the_requests_section_is_the_method_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin = text.index("<!-- methods:begin")
    generated = text[text.index("-->", begin) + 3 : text.index("<!-- methods:end -->")].strip("\n") + "\n"
    assert generated == markdown(), (
        "run: python -m scribe_ls.contract.operations, and paste it between the markers"
    )


def test_every_method_notification_and_error_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = set(re.findall(r"`(scribe/[A-Za-z]+)`", text))
    assert named == set(REQUESTS) | set(NOTIFICATIONS), "documented methods differ from what is served"
    notifications = _section(text, "Notifications (server → client)")
    for name in (*NOTIFICATIONS, SHOW_MESSAGE):
        assert f"| `{name}` |" in notifications
    codes = {value for name, value in vars(errors).items() if name.isupper() and isinstance(value, int)}
    documented = {int(code) for code in re.findall(r"\| `(-32\d\d\d)` \|", _section(text, "Errors"))}
    assert documented == codes


async def test_what_the_server_answers_is_what_the_doc_says(repo: Path) -> None:
    """The real server's capabilities, a Session and a Status, field by field."""
    text = DOC.read_text(encoding="utf-8")
    client = await ScribeClient.spawn(repo)
    try:
        advertised = client.initialize_result["capabilities"]["experimental"]["scribe"]
        assert advertised["methods"] == [m.name for m in METHODS]
        assert advertised["notifications"] == list(NOTIFICATIONS)
        session = await client.request("scribe/startSession", {"title": "doc check"})
        # A start's answer is a Session and what the start did.
        assert session.pop("change") == "started"
        assert "`change`" in _section(text, "Requests")
        status = await client.request("scribe/status", {})
        entry = await client.request("scribe/appendEntry", {"text": "doc check"})
    finally:
        await client.close()
    for name, value, block in (
        ("Session", session, _block(text, "Session")),
        ("Status", status, _block(text, "Status")),
    ):
        for key, inner in value.items():
            assert re.search(rf"\b{key}\b", block), f"{name}.{key} is not documented"
            if isinstance(inner, dict) and key != "currentSession":
                for sub in inner:
                    assert re.search(rf"\b{sub}\b", block), f"{name}.{key}.{sub} is not documented"
    entry_line = text[text.index("**Entry**") :].split("\n", 1)[0]
    assert all(re.search(rf"\b{key}\b", entry_line) for key in entry)


def _first_exchange(text: str) -> list[tuple[str, bytes]]:
    """The documented frames: (who sends it, the frame's bytes)."""
    section = text[text.index("<!-- first-exchange:begin -->") : text.index("<!-- first-exchange:end -->")]
    frames = []
    for who, block in re.findall(r"^(client|server) → \w+:\n\n```\n(.*?)\n```", section, re.M | re.S):
        head, body = block.split("\n\n", 1)
        frames.append((who, ("\r\n".join(head.split("\n")) + "\r\n\r\n" + body).encode()))
    return frames


async def test_the_first_exchange_is_what_the_server_says_byte_for_byte(repo: Path) -> None:
    import asyncio
    import sys

    frames = _first_exchange(DOC.read_text(encoding="utf-8"))
    assert [who for who, _ in frames][:2] == ["client", "server"] and len(frames) >= 5
    for _, frame in frames:
        head, body = frame.split(b"\r\n\r\n", 1)
        assert head.startswith(b"Content-Length: %d" % len(body)), head  # the doc's own lengths
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scribe_ls", "serve", cwd=repo, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None

    def as_documented(body: bytes) -> bytes:
        """The server's body with what differs per run (ids, times, paths) as documented."""
        text = body.decode().replace(str(repo), "/home/me/repo")
        text = re.sub(r"s-[0-9a-f]{12}", "s-5f2c1a9e0b7d", text)
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "2026-12-01T09:30:00.000Z", text).encode()

    try:
        for who, frame in frames:
            head, body = frame.split(b"\r\n\r\n", 1)
            if who == "client":
                body = body.replace(b"file:///home/me/repo", repo.as_uri().encode())
                proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                continue
            got_head = await asyncio.wait_for(proc.stdout.readuntil(b"\r\n\r\n"), 10)
            length = int(got_head.split(b"\r\n")[0].removeprefix(b"Content-Length: "))
            got = as_documented(await asyncio.wait_for(proc.stdout.readexactly(length), 10))
            rest = got_head.split(b"\r\n", 1)[1]
            assert b"Content-Length: %d\r\n" % len(got) + rest + got == frame
    finally:
        proc.kill()
        await proc.wait()
