"""What generic LSP clients do that the editors we test do not: eglot sends incremental
didChange although the server asks for no sync, and no clientInfo. Silence, not an error
per edit, and a log that says who attached."""

from __future__ import annotations

from pathlib import Path

from .helpers import make_git_repo
from .rawrpc import RawPeer


async def test_an_eglot_style_client_gets_no_error_per_edit(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    (repo / "a.py").write_text("x = 1\n")
    peer = await RawPeer.start(repo)
    try:
        uri = (repo / "a.py").as_uri()
        document = {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}
        await peer.send(
            {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}}
        )
        for version in range(2, 12):  # typing: incremental changes, as eglot sends them
            change = {"range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 5}},
                      "rangeLength": 1, "text": str(version)}  # fmt: skip
            params = {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
            await peer.send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": params})
        answered = await peer.request(2, "scribe/status", {})
        assert "result" in answered
    finally:
        await peer.close()
    log = peer.stderr_text()
    assert " ERROR " not in log and "Unsupported" not in log, log
    assert "a client that did not say its name attached to" in log and "None attached" not in log
