"""scribe/summarize: extracted summaries over the wire, with $/progress and summaryReady."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from .helpers import call, git, run_cli

pytestmark = pytest.mark.timeout(60)


def collect_progress(client: LanguageClient) -> asyncio.Queue[tuple[Any, str]]:
    """Every $/progress the server sends, as (token, kind). pytest-lsp's own handler only
    records tokens the server created; a client-offered token is ours to watch."""
    queue: asyncio.Queue[tuple[Any, str]] = asyncio.Queue()

    def on_progress(params: types.ProgressParams) -> None:
        value = params.value
        queue.put_nowait((params.token, value["kind"] if isinstance(value, dict) else value.kind))

    client.protocol.fm.features[types.PROGRESS] = on_progress
    return queue


async def test_summarize_reports_progress_writes_the_file_and_pushes(
    client: LanguageClient, repo: Path
) -> None:
    progress = collect_progress(client)
    await call(client, "scribe/startSession", {})
    for kind, text in [
        ("decision", "Key the cache by HEAD and index mtime"),
        ("idea", "Stream hunks to the client"),
        ("todo", "Write the migration guide"),
        ("todo", "Benchmark on a cold cache"),
        ("note", "done: benchmark on a cold cache"),
        ("note", "wip: rewriting the diff parser"),
        ("note", "next: ask the team about budgets"),
        ("note", "just a thought, nothing to extract"),
    ]:
        await call(client, "scribe/appendEntry", {"kind": kind, "text": text, "files": ["src/cache.py"]})
    (repo / "dirty.py").write_text("x = 1\n")

    result = await call(client, "scribe/summarize", {"workDoneToken": "sum-1"})

    assert result["decisions"] == ["Key the cache by HEAD and index mtime"]
    assert result["ideas"] == ["Stream hunks to the client"]
    assert result["nextSteps"] == ["Write the migration guide", "ask the team about budgets"]
    assert result["completed"] == ["benchmark on a cold cache"]
    assert result["inProgress"][0] == "rewriting the diff parser"
    assert "dirty.py" in result["inProgress"][-1]
    assert result["files"] == ["src/cache.py"]
    path = repo / ".scribe" / "summaries" / "B-4242-summary.md"
    assert result["path"] == str(path)
    text = path.read_text()
    assert text == result["markdown"]
    assert "# B-4242 Session Summary" in text and "**Decisions Made**: 1" in text
    assert "## Next Steps\n- Write the migration guide\n- ask the team about budgets\n" in text
    assert "<!-- DECISIONS_COUNT: 1 -->" in text and "- `src/cache.py`" in text

    ready = await client.pushes.next("scribe/summaryReady")  # type: ignore[attr-defined]
    assert ready == {"sessionId": result["sessionId"], "path": str(path)}
    kinds = []
    while not progress.empty():
        token, kind = progress.get_nowait()
        assert token == "sum-1"
        kinds.append(kind)
    assert kinds[0] == "begin" and kinds[-1] == "end" and "report" in kinds


async def test_summarize_without_token_and_its_errors(client: LanguageClient, repo: Path) -> None:
    progress = collect_progress(client)
    from pygls.exceptions import JsonRpcException

    with pytest.raises(JsonRpcException) as no_session:
        await call(client, "scribe/summarize", {})
    assert no_session.value.code == -32011
    session = await call(client, "scribe/startSession", {"backlogId": "B-7"})
    with pytest.raises(JsonRpcException) as bad_token:
        await call(client, "scribe/summarize", {"workDoneToken": {"x": 1}})
    assert bad_token.value.code == -32602 and "workDoneToken" in str(bad_token.value)
    with pytest.raises(JsonRpcException) as unknown:
        await call(client, "scribe/summarize", {"sessionId": "s-nope"})
    assert unknown.value.code == -32010

    result = await call(client, "scribe/summarize", {"sessionId": session["id"]})
    assert result["decisions"] == [] and Path(result["path"]).name == "B-7-summary.md"
    assert progress.empty()  # no token offered: no progress


async def test_summary_covers_every_session_of_the_backlog_item_and_reaches_other_processes(
    client: LanguageClient, repo: Path
) -> None:
    first = await call(client, "scribe/startSession", {})
    await call(client, "scribe/appendEntry", {"kind": "decision", "text": "first session's decision"})
    await call(client, "scribe/stopSession", {"sessionId": first["id"]})
    await call(client, "scribe/startSession", {})
    await call(client, "scribe/appendEntry", {"kind": "decision", "text": "second session's decision"})
    git(repo, "status")  # the repository is real; the summary reads its status

    cli = run_cli(repo, "summarize", "--json")
    assert cli.returncode == 0, cli.stderr
    ready = await client.pushes.until(  # type: ignore[attr-defined]
        "scribe/summaryReady", lambda p: p["path"].endswith("B-4242-summary.md")
    )
    path = repo / ".scribe" / "summaries" / "B-4242-summary.md"
    assert ready["path"] == str(path)
    text = path.read_text()
    assert "**Sessions**: 2" in text
    assert "- first session's decision\n- second session's decision" in text


def test_summary_file_keeps_the_legacy_layout() -> None:
    """Tools that read the legacy summaries find the same comment keys and headings."""
    import re
    from datetime import UTC, datetime

    from scribe_ls.core.summarize import extract_summary, render_summary
    from scribe_ls.model import Entry, Session, SessionStats

    legacy = (Path(__file__).parents[1] / "data" / "legacy" / "summaries-B-093-summary.md").read_text()
    session = Session(
        id="s-1", backlog_id="B-093", title="t", branch="main", root="/r", status="completed", tags=(),
        type="development", priority="medium", started_at="2025-08-22T22:30:00Z", ended_at=None,
        last_activity_at="2025-08-22T22:38:22Z", idle_timeout=1800, stats=SessionStats(1, 1, 0),
    )  # fmt: skip
    entry = Entry(1, "s-1", "2025-08-22T22:38:22Z", "activity", "Changes: 1 file(s)", ("000_core/README.md",))
    summary = extract_summary("B-093", [session], [entry], None, datetime(2025, 8, 22, 23, 49, 7, tzinfo=UTC))
    ours = render_summary(summary, "artifacts/worklogs/B-093.md", "artifacts/summaries/B-093-summary.md")

    def keys(text: str) -> list[str]:
        return re.findall(r"^<!-- (\w+):", text, re.M)

    def headings(text: str) -> list[str]:
        return re.findall(r"^(#+ .*|\*\*[^*]+\*\*:)", text, re.M)

    assert keys(ours) == keys(legacy)
    assert headings(ours) == headings(legacy)  # nothing extracted: no extra sections either
    assert "**Last Activity**: 2025-08-22 22:38:22" in ours and "- `000_core/README.md`" in ours
    assert ours.startswith("\n\n<!-- DSPY_ROLE: implementer -->")


def test_an_imported_item_has_no_work_tree_and_its_legacy_reports_count(repo: Path) -> None:
    import json

    legacy = Path(__file__).parents[1] / "data" / "legacy" / "worklogs-B-096.md"
    (repo / "dirty.py").write_text("uncommitted today\n")
    assert run_cli(repo, "import", str(legacy)).returncode == 0
    done = run_cli(repo, "summarize", "B-096", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    # Imported (completed), and not the checked-out item: today's files are not its work.
    assert not any("dirty.py" in line for line in summary["inProgress"])
    assert any(line.startswith("Recent work completed: 400_guides/") for line in summary["completed"])
    assert any(line.startswith("Backlog files committed: PRD-B-1008") for line in summary["completed"])
    assert {
        "dspy-rag-system/tests/test_memory_rehydrator.py",
        "dspy-rag-system/config/database/ltst_schema_migration.sql",
        "artifacts/prds/PRD-B-1012-LTST-Foundation.md",
        "000_core/000_backlog.md",
    } <= set(summary["files"])
    assert "(+123 more)" not in " ".join(summary["files"])
    # The checked-out item's open session does see the work tree.
    run_cli(repo, "start")
    mine = json.loads(run_cli(repo, "summarize", "--json").stdout)
    assert "dirty.py" in mine["inProgress"][-1]


async def test_a_big_items_summary_is_refreshed_at_most_a_tenth_of_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refresh reads every entry of the item: after one that took a second, entries keep
    asking but the next refresh waits nine seconds (REFRESH_SHARE); a stop always asks."""
    from types import SimpleNamespace

    from scribe_ls.config import Config
    from scribe_ls.core import background_summaries as background
    from scribe_ls.core.events import ENTRY_ADDED, SESSION_CHANGED, Notification

    now = [100.0]
    monkeypatch.setattr(background.time, "monotonic", lambda: now[0])
    refreshed: list[str] = []

    async def summarize(session_id: str | None = None) -> dict[str, Any]:
        refreshed.append(str(session_id))
        now[0] += 1.0  # a big item: a second to read and extract
        return {}

    target = SimpleNamespace(
        config=Config(summary_every=5), recorder=SimpleNamespace(holds_lease=True), summarize=summarize
    )
    worker = background.BackgroundSummaries(target)  # type: ignore[arg-type]
    entry = Notification(ENTRY_ADDED, {"entry": {"sessionId": "s-1"}})

    async def drain() -> None:
        while not worker.queue.empty():
            session_id = worker.queue.get_nowait()
            worker.pending.discard(session_id)
            await worker._refresh(session_id)

    for _ in range(5):
        worker.heard(entry)
    await drain()
    assert refreshed == ["s-1"]
    for _ in range(50):  # right after: many entries, no refresh yet
        worker.heard(entry)
    await drain()
    assert refreshed == ["s-1"]
    now[0] += 9.0  # nine seconds on: the next entry asks
    worker.heard(entry)
    await drain()
    assert refreshed == ["s-1", "s-1"]
    worker.heard(Notification(SESSION_CHANGED, {"change": "stopped", "session": {"id": "s-1"}}))
    await drain()
    assert refreshed == ["s-1", "s-1", "s-1"]
