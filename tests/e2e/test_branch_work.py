"""The packet shows the branch's whole work: every commit since it left its base, every file
changed since then (committed or not, each saying which), and how far the base moved; the
repository's own recent history only where there is no base."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe_ls.core.service import Scribe

from .helpers import configure, git, make_git_repo

pytestmark = pytest.mark.timeout(60)


def commit(repo: Path, name: str, text: str, subject: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-q", "-m", subject)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def forked(tmp_path: Path) -> tuple[Path, str]:
    """main with history, feature/B-7-parser forked from it with two commits and edits on
    top, and main moved on by two commits since."""
    repo = make_git_repo(tmp_path / "repo", branch="main")
    for n in range(3):
        commit(repo, f"old{n}.py", f"old = {n}\n", f"old work {n}")
    fork = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "-b", "feature/B-7-parser")
    commit(repo, "a.py", "a = 1\n", "parser: a")
    commit(repo, "b.py", "b = 1\n", "parser: b")
    git(repo, "checkout", "-q", "main")
    commit(repo, "z.py", "z = 1\n", "someone else on main")
    commit(repo, "y.py", "y = 1\n", "more on main")
    git(repo, "checkout", "-q", "feature/B-7-parser")
    (repo / "b.py").write_text("b = 2  # changed since its commit\n")
    (repo / "c.py").write_text("c = 1\n")
    git(repo, "add", "c.py")
    (repo / "d.txt").write_text("untracked\n")
    return repo, fork


async def packets(repo: Path) -> tuple[dict, str]:
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        as_json = await scribe.context(max_chars=100_000)
        markdown = (await scribe.context(format="markdown", max_chars=100_000))["markdown"]
    return as_json["sections"], markdown


async def test_a_branch_shows_its_commits_files_and_the_bases_movement(forked: tuple[Path, str]) -> None:
    repo, fork = forked
    sections, markdown = await packets(repo)
    assert sections["git"]["data"]["base"] == {"name": "main", "mergeBase": fork, "ahead": 2, "behind": 2}
    commits = sections["commits"]
    assert [c["subject"] for c in commits["data"]] == ["parser: b", "parser: a"]
    assert (commits["since"], commits["total"]) == ("main", 2)
    files = {f["path"]: f.get("state", "untracked") for f in sections["diff"]["data"]["files"]}
    assert files == {
        "a.py": "committed",
        "b.py": "committed, and changed since",
        "c.py": "uncommitted",
        "d.txt": "untracked",
    }  # main's own commits (z.py, y.py) are not the branch's work
    hunks = {h["path"] for h in sections["diff"]["data"]["hunks"]}
    assert {"a.py", "b.py", "c.py"} <= hunks
    assert sections["diff"]["since"] == "main"
    assert f"Left main at {fork[:7]}: 2 commits on this branch; main has 2 more since." in markdown
    assert "2 on this branch since it left main:" in markdown
    assert "| a.py | 1 | 0 | committed |" in markdown and "| d.txt | new |  | untracked |" in markdown
    assert "old work" not in markdown and "someone else on main" not in markdown


async def test_on_the_base_itself_the_repositorys_history_is_shown(forked: tuple[Path, str]) -> None:
    repo, _ = forked
    git(repo, "stash", "-q", "-u")
    git(repo, "checkout", "-q", "main")
    sections, markdown = await packets(repo)
    assert sections["git"]["data"]["base"] is None
    assert "since" not in sections["commits"]
    assert [c["subject"] for c in sections["commits"]["data"]][:2] == ["more on main", "someone else on main"]
    assert "on this branch" not in markdown


async def test_the_remotes_default_branch_and_a_configured_base(tmp_path: Path) -> None:
    origin = make_git_repo(tmp_path / "origin", branch="trunk")
    commit(origin, "base.py", "x = 1\n", "trunk work")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "config", "user.email", "dev@example.com")
    git(clone, "config", "user.name", "Dev")
    git(clone, "checkout", "-q", "-b", "feature/B-8-x")
    git(clone, "branch", "-q", "-D", "trunk")  # only origin/trunk, named by origin/HEAD
    commit(clone, "f.py", "f = 1\n", "feature work")
    sections, _ = await packets(clone)
    assert sections["git"]["data"]["base"]["name"] == "origin/trunk"
    assert [c["subject"] for c in sections["commits"]["data"]] == ["feature work"]
    # A configured base wins: develop, forked later than trunk's tip.
    git(clone, "branch", "develop")
    commit(clone, "g.py", "g = 1\n", "after develop")
    configure(clone, 'base_branch = "develop"\n')
    sections, _ = await packets(clone)
    assert sections["git"]["data"]["base"]["name"] == "develop"
    assert [c["subject"] for c in sections["commits"]["data"]] == ["after develop"]


async def test_a_long_branch_is_cut_with_a_count(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo", branch="main")
    git(repo, "checkout", "-q", "-b", "feature/B-9-long")
    for n in range(60):
        git(repo, "commit", "-q", "--allow-empty", "-m", f"step {n}")
    sections, markdown = await packets(repo)
    assert len(sections["commits"]["data"]) == 50 and sections["commits"]["total"] == 60
    assert "60 on this branch since it left main:" in markdown
    assert "10 older commits on this branch not listed." in markdown


async def test_resume_shows_the_branchs_files(forked: tuple[Path, str]) -> None:
    repo, _ = forked
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        packet = await scribe.resume()
    # Uncommitted is what is not committed; the branch's committed work is said apart.
    assert {f["path"] for f in packet["uncommitted"]} == {"b.py", "c.py", "d.txt"}
    assert {f["path"] for f in packet["branch"]["files"]} == {"a.py", "b.py", "c.py", "d.txt"}
    assert "## Committed on this branch since main\n\n- a.py (+1/-0)\n- b.py (+1/-0)" in packet["markdown"]


async def test_search_finds_the_files_entries_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`search termui` finds the entry about src/click/termui.py, in a new store and in one
    made before the index had files (schema 8, migrated)."""
    import sqlite3

    from scribe_ls.store import base, schema

    old = make_git_repo(tmp_path / "old")
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 8)
    # The code of that time kept no time per author (schema 11): nor does it here.
    monkeypatch.setattr(base, "apply_author_pulse", lambda *args: None)
    async with Scribe(old) as scribe:
        await scribe.start_session()
        await scribe.append_entry("tuned the prompt", files=["src/click/termui.py"])
    monkeypatch.undo()
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 9)
    monkeypatch.setattr(base, "apply_author_pulse", lambda *args: None)
    db = sqlite3.connect(old / ".scribe" / "scribe.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == 8
    db.close()
    async with Scribe(old) as scribe:
        hits = await scribe.search("termui")
        await scribe.append_entry("again", files=["src/click/core.py"])
        core = await scribe.search("core")
    assert [hit.entry.text for hit in hits] == ["tuned the prompt"]
    assert [hit.entry.text for hit in core] == ["again"]


async def test_a_decision_whose_files_changed_since_is_marked(tmp_path: Path) -> None:
    import asyncio

    repo = make_git_repo(tmp_path / "repo", branch="feature/B-3-x")
    for name in ("a.py", "b.py", "src/c.py"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        commit(repo, name, f"{name} = 1\n", f"add {name}")
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        edited = await scribe.append_entry("keep a.py flat", kind="decision", files=["a.py"])
        untouched = await scribe.append_entry("b.py stays as it is", kind="decision")
        committed = await scribe.append_entry("split src/c.py later", kind="todo")
        await asyncio.sleep(1.1)  # commit times have one-second steps
        (repo / "a.py").write_text("a = 2  # edited after the decision\n")
        commit(repo, "src/c.py", "c = 2\n", "c changed after the todo")
        worklog = (await scribe.context(sections=["worklog"]))["sections"]["worklog"]["data"]
        markdown = (await scribe.context(format="markdown", sections=["worklog"]))["markdown"]
        resume = await scribe.resume()
    marks = {e["id"]: e.get("changedSince") for e in worklog}
    assert marks[edited.id] == ["a.py"]
    assert marks[committed.id] == ["src/c.py"]
    assert marks[untouched.id] is None
    assert "keep a.py flat — files changed since: a.py" in markdown
    assert "b.py stays as it is\n" in markdown + "\n"
    assert "keep a.py flat (files changed since: a.py)" in resume["decisions"]
    assert "b.py stays as it is" in resume["decisions"]
    assert "split src/c.py later (files changed since: src/c.py)" in resume["openTodos"]


async def test_a_served_packet_marks_a_decision_once_its_file_is_saved(tmp_path: Path) -> None:
    """A server's cached worklog follows the work tree when its decisions name files."""
    import asyncio

    from scribe_ls.rpc.client import ScribeClient

    repo = make_git_repo(tmp_path / "repo")
    commit(repo, "a.py", "a = 1\n", "add a.py")
    configure(repo, "activity_window = 0.2\n")
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        decision = await client.request("scribe/appendEntry", {"text": "keep a.py flat", "kind": "decision"})
        first = await client.request("scribe/getContext", {"sections": ["worklog"]})
        assert "changedSince" not in first["sections"]["worklog"]["data"][-1]
        await asyncio.sleep(0.05)
        (repo / "a.py").write_text("a = 2\n")
        while True:
            pushed = await client.next_notification("scribe/activity", timeout=5)
            if any(f["path"] == "a.py" for f in pushed["files"]):
                break
        second = await client.request("scribe/getContext", {"sections": ["worklog"]})
    finally:
        await client.close()
    [marked] = [e for e in second["sections"]["worklog"]["data"] if e["id"] == decision["id"]]
    assert marked["changedSince"] == ["a.py"] and not second["sections"]["worklog"].get("cached")


async def test_a_decision_naming_a_path_outside_the_repository_is_never_checked(tmp_path: Path) -> None:
    from scribe_ls.context.changed_since import _named_paths
    from scribe_ls.model import Entry

    entry = Entry(
        1, "s-1", "2026-01-01T00:00:00.000Z", "decision", "see ../../etc/passwd and /etc/shadow, a/../../b.py"
    )
    assert _named_paths(tmp_path, entry) == []
    outside = tmp_path / "outside.py"
    outside.write_text("x = 1\n")
    repo = make_git_repo(tmp_path / "repo")
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        await scribe.append_entry("compare with ../outside.py", kind="decision")
        outside.write_text("x = 2\n")
        worklog = (await scribe.context(sections=["worklog"]))["sections"]["worklog"]["data"]
    assert not any(e.get("changedSince") for e in worklog)
