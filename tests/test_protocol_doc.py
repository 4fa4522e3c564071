"""docs/protocol.md is the contract: it cannot drift from the method table or the server."""

from __future__ import annotations

import re
from pathlib import Path

from scribe_ls import errors
from scribe_ls.events import NOTIFICATIONS, SHOW_MESSAGE
from scribe_ls.rpc.client import ScribeClient
from scribe_ls.rpc.methods import METHODS, REQUESTS, markdown

DOC = Path(__file__).parent.parent / "docs" / "protocol.md"


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
    assert generated == markdown(), "run: python -m scribe_ls.rpc.methods, and paste it between the markers"


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
