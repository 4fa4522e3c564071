"""scribe/getContext: every section on a real repository, degraded repositories, the cache,
the budget, redaction, and the legacy blocking facade."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from scribe_ls import Scribe, fetch_scribe_context
from scribe_ls.errors import ScribeError
from scribe_ls.rpc.client import ScribeClient

from .helpers import git

pytestmark = pytest.mark.timeout(60)


def sections_size(packet: dict) -> int:
    return len(json.dumps(packet["sections"], ensure_ascii=False, separators=(",", ":")))


def busy_repo(repo: Path) -> None:
    """Commits, a modified file with several hunks, a staged new file, an untracked file."""
    body = "".join(f"line {n}\n" for n in range(200))
    (repo / "big.py").write_text(body)
    git(repo, "add", "big.py")
    git(repo, "commit", "-q", "-m", "Add big.py")
    lines = body.splitlines(keepends=True)
    # Three hunks of different sizes (1, 3 and 2 lines), so size order is not file order.
    for n in (5, 80, 81, 82, 160, 161):
        lines[n] = f"changed {n} with password=hunter2\n" if n == 80 else f"changed {n}\n"
    (repo / "big.py").write_text("".join(lines))
    (repo / "staged.txt").write_text("new\n")
    git(repo, "add", "staged.txt")
    (repo / "notes.tmp").write_text("scratch\n")


async def test_every_section_on_a_real_repo(repo: Path) -> None:
    busy_repo(repo)
    async with Scribe(repo) as scribe:
        session = await scribe.start_session()
        await scribe.append_entry("use the cache", kind="decision", files=["big.py"])
        await scribe.append_entry("try hunks by size", kind="idea")
        packet = await scribe.context()
    sections = packet["sections"]
    assert packet["sessionId"] == session.id and packet["cached"] is False
    assert all(section["ok"] for section in sections.values()), sections
    assert sections["session"]["data"]["backlogId"] == "B-4242"
    gitdata = sections["git"]["data"]
    assert gitdata["branch"] == "feature/B-4242-x" and gitdata["upstream"] is None
    assert {(f["path"], f["status"]) for f in gitdata["files"]} == {
        ("big.py", "modified"),
        ("staged.txt", "added"),
        ("notes.tmp", "untracked"),
    }
    diff = sections["diff"]["data"]
    assert {f["path"] for f in diff["files"]} == {"big.py", "staged.txt", "notes.tmp"}
    assert next(f for f in diff["files"] if f["path"] == "big.py")["added"] == 6
    big_hunks = [h["text"].split()[1] for h in diff["hunks"] if h["path"] == "big.py"]
    assert big_hunks == ["-3,7", "-78,9", "-158,8"] and diff["omitted"] == []  # in file order
    assert "hunter2" not in json.dumps(packet) and "password=[REDACTED]" in json.dumps(diff)
    assert [c["subject"] for c in sections["commits"]["data"]] == ["Add big.py", "initial"]
    assert [e["kind"] for e in sections["worklog"]["data"]][-2:] == ["decision", "idea"]
    summary = sections["summary"]["data"]
    assert summary["decisions"] == ["use the cache"] and summary["ideas"] == ["try hunks by size"]
    assert sections["sessions"]["data"] == []
    assert packet["truncated"] is False


async def test_other_sessions_show_shared_files(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        first = await scribe.start_session("B-1")
        await scribe.append_entry("a", files=["src/shared.py", "src/mine.py"], session_id=first.id)
        second = await scribe.start_session("B-2")  # pauses B-1: both are open
        await scribe.append_entry("b", files=["src/shared.py"], session_id=second.id)
        packet = await scribe.context(first.id, sections=["sessions"])
    assert packet["sections"]["sessions"]["data"] == [
        {
            "id": second.id,
            "backlogId": "B-2",
            "title": "B-2",
            "branch": "feature/B-4242-x",
            "root": str(scribe.root),
            "sharedFiles": ["src/shared.py"],
            "linkedWorktree": False,
        }
    ]


@pytest.mark.parametrize("case", ["no commits", "detached", "not a repo", "no git"])
async def test_degraded_repositories_still_answer(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "r"
    root.mkdir()
    if case != "not a repo":
        git(root, "init", "-q", "-b", "main")
        (root / "a.txt").write_text("a\n")
    if case == "detached":
        git(root, "add", "a.txt")
        git(root, "-c", "user.email=a@b", "-c", "user.name=n", "commit", "-q", "-m", "one")
        git(root, "checkout", "-q", "--detach")
    if case == "no git":
        monkeypatch.setenv("PATH", "")
    async with Scribe(root) as scribe:
        await scribe.start_session(title=case)
        packet = await scribe.context()
    sections = packet["sections"]
    assert sections["session"]["ok"] and sections["worklog"]["ok"] and sections["summary"]["ok"]
    if case == "no commits":
        assert sections["git"]["data"]["head"] is None
        assert sections["commits"]["data"] == []
        assert [f["path"] for f in sections["diff"]["data"]["files"]] == ["a.txt"]
    elif case == "detached":
        assert sections["git"]["data"]["detached"] is True and sections["git"]["data"]["branch"] is None
    elif case == "not a repo":
        assert not sections["git"]["ok"] and "not a git repository" in sections["git"]["error"]
        assert not sections["diff"]["ok"] and not sections["commits"]["ok"]
    else:
        assert not sections["git"]["ok"] and "git is not installed" in sections["git"]["error"]


async def test_budget_is_never_exceeded(repo: Path) -> None:
    busy_repo(repo)
    for n in range(30):
        (repo / f"file{n}.py").write_text("x = 1\n" * (n * 7 + 1))
    rng = random.Random(3)
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        for n in range(30):
            await scribe.append_entry(f"entry {n} " + "words " * rng.randint(1, 80))
        for budget in [
            1000,
            1500,
            2500,
            4000,
            8000,
            12000,
            50000,
            *(rng.randint(1000, 20000) for _ in range(8)),
        ]:
            markdown = await scribe.context(max_chars=budget, format="markdown")
            assert len(markdown["markdown"]) <= budget
            if budget < 1100:  # a JSON packet of every section needs 1,053 characters at the least
                continue
            packet = await scribe.context(max_chars=budget)
            assert sections_size(packet) <= budget
            assert len(json.dumps(packet, ensure_ascii=False, separators=(",", ":"))) <= budget
            markdown = await scribe.context(max_chars=budget, format="markdown")
            assert len(markdown["markdown"]) <= budget
            diff = packet["sections"]["diff"]
            if not diff["ok"]:  # a tiny budget may leave the whole diff out, and says so
                assert diff["error"].startswith("left out to fit the budget (") and budget < 2000
                continue
            hunks = diff["data"]["hunks"]
            for path in {h["path"] for h in hunks}:  # whatever was kept reads in file order
                starts = [int(h["text"].split()[1].split(",")[0][1:]) for h in hunks if h["path"] == path]
                assert starts == sorted(starts)
        small = await scribe.context(max_chars=3000)
        assert small["truncated"] is True
        diff = small["sections"]["diff"]["data"]
        assert len(diff["files"]) >= 1 and diff["omitted"]  # the header stays, hunks go
        big = await scribe.context(max_chars=200_000)
        assert big["truncated"] is False and big["sections"]["diff"]["data"]["omitted"] == []


async def test_markdown_reads_like_a_packet(repo: Path) -> None:
    busy_repo(repo)
    async with Scribe(repo) as scribe:
        await scribe.start_session(title="Fix the parser")
        await scribe.append_entry("keep hunks whole", kind="decision")
        packet = await scribe.context(format="markdown")
    text = packet["markdown"]
    assert text.startswith("# Context — B-4242: Fix the parser\n")
    for heading in ("## Session", "## Git", "## Diff", "## Commits", "## Worklog", "## Summary"):
        assert heading in text
    assert "```diff" in text and "| big.py | 6 | 6 |" in text and "hunter2" not in text


async def test_cache_hits_and_is_invalidated_over_the_wire(repo: Path) -> None:
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        first = await client.request("scribe/getContext", {})
        second = await client.request("scribe/getContext", {})
        assert (first["cached"], second["cached"]) == (False, True)
        assert second["sections"] == first["sections"]
        # A new entry invalidates.
        await client.request("scribe/appendEntry", {"text": "new fact"})
        third = await client.request("scribe/getContext", {})
        assert third["cached"] is False and third["sections"]["worklog"]["data"][-1]["text"] == "new fact"
        # ...of the sections that show it: git's are served again, not asked of git again.
        assert "cached" not in third["sections"]["worklog"] and "cached" not in third["sections"]["session"]
        assert all(third["sections"][name].get("cached") for name in ("git", "diff", "commits"))
        assert third["sections"]["git"]["data"] == first["sections"]["git"]["data"]
        assert (await client.request("scribe/getContext", {}))["cached"] is True
        # A saved file invalidates (the watcher's push arrives first).
        (repo / "touched.txt").write_text("x")
        while True:
            params = await client.next_notification("scribe/activity", timeout=5)
            if any(f["path"] == "touched.txt" for f in params["files"]):
                break
        fourth = await client.request("scribe/getContext", {})
        assert fourth["cached"] is False
        # Never a stale git section: the save made git's sections be fetched again, and
        # only those (the worklog did not change).
        assert "cached" not in fourth["sections"]["git"]
        assert "touched.txt" in [f["path"] for f in fourth["sections"]["git"]["data"]["files"]]
        assert fourth["sections"]["worklog"].get("cached") is True
        # A HEAD move (commit) invalidates.
        await client.request("scribe/getContext", {})
        git(repo, "add", "touched.txt")
        git(repo, "commit", "-q", "-m", "Touch")
        while True:
            params = await client.next_notification("scribe/entryAdded", timeout=5)
            if params["entry"]["kind"] == "commit":
                break
        fifth = await client.request("scribe/getContext", {})
        assert fifth["cached"] is False and fifth["sections"]["commits"]["data"][0]["subject"] == "Touch"
        assert "touched.txt" not in [f["path"] for f in fifth["sections"]["git"]["data"]["files"]]
        # Different budgets or sections are different cache entries.
        other = await client.request("scribe/getContext", {"sections": ["git"], "maxChars": 5000})
        assert other["cached"] is False and list(other["sections"]) == ["git"]
        with pytest.raises(ScribeError) as info:
            await client.request("scribe/getContext", {"sections": ["git", "weather"]})
        assert info.value.code == -32602 and info.value.message.startswith("sections[1]:")
        with pytest.raises(ScribeError) as info:
            await client.request("scribe/getContext", {"format": "html"})
        assert info.value.message.startswith("format:")
    finally:
        await client.close()


async def test_slow_section_times_out_alone(repo: Path) -> None:
    from scribe_ls.context import ContextProvider, ContextRequest

    async with Scribe(repo) as scribe:
        await scribe.start_session()
        provider = ContextProvider(scribe, section_timeout=0.2)

        async def slow(*_: object) -> None:
            await asyncio.sleep(5)

        provider._section_commits = slow  # type: ignore[method-assign]
        packet = await provider.get(ContextRequest(None, ("session", "commits", "worklog"), 12000, "json"))
    commits = packet["sections"]["commits"]
    assert (commits["ok"], commits["error"]) == (False, "timed out after 0.2s")
    # It gave up at its timeout, not after the 5 s the section would have taken.
    assert 200 <= commits["elapsedMs"] < 4000
    assert packet["sections"]["session"]["ok"] and packet["sections"]["worklog"]["ok"]


def test_legacy_fetch_scribe_context(repo: Path) -> None:
    async def seed() -> None:
        async with Scribe(repo) as scribe:
            await scribe.start_session(title="legacy caller", tags=["api"])
            await scribe.append_entry("hello")

    asyncio.run(seed())
    (repo / "changed.txt").write_text("x")
    context = fetch_scribe_context(repo)
    assert set(context) == {
        "active_sessions",
        "recent_worklogs",
        "session_registry",
        "current_branch",
        "recent_changes",
        "timestamp",
    }
    assert [s["backlog_id"] for s in context["active_sessions"]] == ["B-4242"]  # really filled in
    assert context["active_sessions"][0]["context"]["tags"] == ["api"]
    assert context["session_registry"]["active_sessions"] == 1
    assert "B-4242" in context["session_registry"]["sessions"]
    assert context["current_branch"] == "feature/B-4242-x"
    assert "changed.txt" in context["recent_changes"]
    assert context["recent_worklogs"][0]["content"].startswith("# Worklog B-4242")
    assert context["timestamp"].endswith("Z")


async def test_legacy_facade_works_inside_a_running_loop(repo: Path) -> None:
    context = fetch_scribe_context(repo)  # called from async code: must not deadlock
    assert context["current_branch"] == "feature/B-4242-x"


async def test_a_token_budget_is_fitted_and_every_section_says_what_it_costs(repo: Path) -> None:
    from scribe_ls.context.tokens import estimate_tokens

    busy_repo(repo)
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        for n in range(40):
            await scribe.append_entry(f"entry {n}: " + "a considered decision about caching " * 5)
        full = await scribe.context(format="json", max_chars=200_000)
        assert full["tokenEstimator"] == "scribe-ls-1"
        assert set(full["sectionTokens"]) == set(full["sections"])
        assert full["sectionTokens"]["worklog"] > full["sectionTokens"]["commits"]
        for budget in (500, 800, 1500, 4000):
            packet = await scribe.context(format="json", max_chars=200_000, max_tokens=budget)
            sections_json = json.dumps(packet["sections"], ensure_ascii=False, separators=(",", ":"))
            assert estimate_tokens(sections_json) == packet["tokens"] <= budget
            whole = json.dumps(packet, ensure_ascii=False, separators=(",", ":"))
            assert estimate_tokens(whole) <= budget  # the packet's own keys too
            if full["tokens"] > budget:  # the sections alone are over: cut, and said to be
                assert packet["truncated"] is True
            markdown = await scribe.context(format="markdown", max_chars=200_000, max_tokens=budget)
            assert estimate_tokens(markdown["markdown"]) == markdown["tokens"] <= budget
        roomy = await scribe.context(format="json", max_chars=200_000, max_tokens=250_000)
        assert roomy["truncated"] is False and roomy["tokens"] == full["tokens"]
        with pytest.raises(ScribeError, match="max_tokens"):
            await scribe.context(max_tokens=5)


def test_the_token_estimate_follows_its_documented_rule() -> None:
    from scribe_ls.context.tokens import estimate_tokens

    assert estimate_tokens("") == 0
    assert estimate_tokens("hello world") == 2  # a space belongs to the word after it
    assert estimate_tokens("internationalization") == 4  # 20 letters: 1 + 19 // 6
    assert estimate_tokens("1234567") == 3  # digits in threes
    assert estimate_tokens('{"a": 1}') == 7  # { " a " : 1 }
    assert estimate_tokens("日本語") == 3  # one per non-ASCII character
    text = "def fit(sections, budget):\n    return measure(sections) <= budget\n"
    assert estimate_tokens(text * 10) == 10 * estimate_tokens(text)
