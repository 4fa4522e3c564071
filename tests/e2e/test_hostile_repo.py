"""A repository is outside input: what it ships in .scribe/ (links, odd files), in its
config and in its file names must never make scribe-ls write outside the repository, and
the user is told what was refused."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scribe_ls.core.service import Scribe
from scribe_ls.errors import ScribeError

from .helpers import git, make_git_repo, run_cli
from .rawrpc import RawPeer

pytestmark = pytest.mark.timeout(60)


def tree_digest(top: Path, skip: Path) -> dict[str, str]:
    """Every entry under ``top`` but ``skip``: file contents, link targets, directories."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d != skip]
        for name in [*dirnames, *filenames]:
            path = here / name
            key = str(path.relative_to(top))
            if path.is_symlink():
                found[key] = "link:" + os.readlink(path)
            elif path.is_dir():
                found[key] = "dir"
            else:
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """Files a hostile repository would like scribe-ls to write to."""
    victim = tmp_path / "victim"
    (victim / "dir").mkdir(parents=True)
    (victim / "rc").write_text("# my shell rc\n")
    (victim / "notes.txt").write_text("precious\n")
    return victim


async def exercise(root: Path) -> list[dict]:
    """What an editor and a user do in a fresh clone: a server starts, sessions, notes,
    a summary, a save; the CLI too. Returns the server's answers."""
    peer = await RawPeer.start(root)
    answers = []
    try:
        answers.append(await peer.request(2, "scribe/startSession", {"title": "t"}))
        answers.append(await peer.request(3, "scribe/appendEntry", {"text": "a note"}))
        answers.append(await peer.request(4, "scribe/summarize", {}))
        (root / "work.py").write_text("x = 1\n")
        await asyncio.sleep(0.3)
        answers.append(await peer.request(5, "scribe/status", {}))
    finally:
        await peer.close()
    for verb in (["start"], ["append", "cli", "note"], ["summarize"], ["stop"]):
        run_cli(root, *verb)
    peer.messages = [
        n["params"]["message"] for n in peer.notifications if n["method"] == "window/showMessage"
    ]  # type: ignore[attr-defined]
    answers.append({"messages": peer.messages})  # type: ignore[attr-defined]
    return answers


def test_a_clone_with_tracked_scribe_links_changes_nothing_outside(tmp_path: Path, victim: Path) -> None:
    origin = make_git_repo(tmp_path / "origin")
    scribe_dir = origin / ".scribe"
    scribe_dir.mkdir()
    (scribe_dir / "recorder.lock").symlink_to(victim / "rc")
    (scribe_dir / "scribe.log").symlink_to(victim / "rc")
    (scribe_dir / "summaries").symlink_to(victim / "dir")
    (scribe_dir / "worklogs").symlink_to(victim / "dir")
    (scribe_dir / "scribe.db").symlink_to(victim / "dir" / "x.db")  # dangling
    git(origin, "add", "-f", ".scribe")
    git(origin, "commit", "-q", "-m", "ship a .scribe")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    assert (clone / ".scribe" / "recorder.lock").is_symlink()

    before = tree_digest(tmp_path, skip=clone)
    answers = asyncio.run(exercise(clone))
    assert tree_digest(tmp_path, skip=clone) == before

    # The user is told, once, in plain words; every request says the same.
    messages = answers[-1]["messages"]
    assert any("tracked by git" in m for m in messages)
    assert answers[0]["error"]["code"] == -32013 and "tracked by git" in answers[0]["error"]["message"]
    assert answers[3]["result"]["storeError"]
    done = run_cli(clone, "status")
    assert done.returncode == 1 and "tracked by git" in done.stderr
    assert len(done.stderr.strip().splitlines()) <= 2  # a message, not a traceback


@pytest.mark.parametrize(
    "plant",
    [
        "scribe_dir_link",
        "recorder_lock",
        "log_file",
        "summaries_dir",
        "worklogs_dir",
        "dangling_db",
        "db_wal",
        "worklog_file",
        "render_state",
        "config_toml",
    ],
)
def test_planted_links_are_never_followed(tmp_path: Path, victim: Path, plant: str) -> None:
    """An untracked .scribe/ (an unpacked archive, a shared disk) with one planted link."""
    root = make_git_repo(tmp_path / "repo")
    scribe_dir = root / ".scribe"
    if plant == "scribe_dir_link":
        scribe_dir.symlink_to(victim / "dir")
    else:
        scribe_dir.mkdir()
        (scribe_dir / "worklogs").mkdir()
        target = {
            "recorder_lock": ("recorder.lock", victim / "rc"),
            "log_file": ("scribe.log", victim / "rc"),
            "summaries_dir": ("summaries", victim / "dir"),
            "worklogs_dir": ("worklogs", victim / "dir"),
            "dangling_db": ("scribe.db", victim / "dir" / "new.db"),
            "db_wal": ("scribe.db-wal", victim / "notes.txt"),
            "worklog_file": ("worklogs/B-4242.md", victim / "notes.txt"),
            "render_state": ("worklogs/.B-4242.state", victim / "notes.txt"),
            "config_toml": ("config.toml", victim / "notes.txt"),
        }[plant]
        link = scribe_dir / target[0]
        if link.exists() and link.is_dir():
            link.rmdir()
        link.symlink_to(target[1])
    before = tree_digest(tmp_path, skip=root)
    answers = asyncio.run(exercise(root))
    assert tree_digest(tmp_path, skip=root) == before
    messages = " ".join(answers[-1]["messages"])
    if plant in ("scribe_dir_link", "worklogs_dir", "dangling_db", "db_wal"):
        # The store itself cannot be used: said once, and every request says why.
        assert "symbolic link" in messages
        assert answers[0]["error"]["code"] == -32013
    elif plant == "recorder_lock":
        assert "not recording" in messages and answers[0]["result"]["backlogId"] == "B-4242"
        assert answers[3]["result"]["watcher"]["recorder"] is False
    elif plant == "summaries_dir":
        assert answers[2]["error"]["code"] == -32013 and "summaries" in answers[2]["error"]["message"]
    elif plant in ("worklog_file", "render_state"):
        # The link itself is replaced by the real file; its target is untouched.
        assert not (scribe_dir / "worklogs" / "B-4242.md").is_symlink()
        assert "a note" in (scribe_dir / "worklogs" / "B-4242.md").read_text()
    elif plant == "config_toml":
        assert "config.toml" in messages
    if plant == "log_file":
        assert answers[0]["result"]["backlogId"] == "B-4242"


def test_log_injection_through_config_keys_is_one_escaped_line(tmp_path: Path) -> None:
    root = make_git_repo(tmp_path / "repo")
    (root / "pyproject.toml").write_text('[tool.scribe]\n"\\ntouch ~/pwned\\n" = 1\n"\\u001b[31mred" = 2\n')
    done = run_cli(root, "start")
    assert done.returncode == 0, done.stderr
    log_text = (root / ".scribe" / "scribe.log").read_text()
    lines = [line for line in log_text.splitlines() if "touch ~/pwned" in line]
    assert len(lines) == 1
    assert lines[0].startswith("20") and "\\ntouch ~/pwned\\n" in lines[0]
    assert not any(line.startswith("touch") for line in log_text.splitlines())
    assert "\x1b" not in log_text and "\\x1b[31mred" in log_text


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.start_session(backlog_id="../../etc"), "backlog_id"),
        (lambda s: s.start_session(backlog_id="B-١٢٣"), "backlog_id"),  # non-ASCII digits
        (lambda s: s.start_session(title="x" * 1000), "title"),
        (lambda s: s.start_session(tags=["ok", 5]), "tags[1]"),
        (lambda s: s.start_session(tags="not-a-list"), "tags"),
        (lambda s: s.note("a\ud800b"), "text"),
        (lambda s: s.note("   "), "text"),
        (lambda s: s.note("x", kind="shell"), "kind"),
        (lambda s: s.note("x", files=["a\nb"]), "files[0]"),
        (lambda s: s.note("x", files=["bad\udcff"]), "files[0]"),
        (lambda s: s.list_sessions(limit=True), "limit"),
        (lambda s: s.list_sessions(backlog_id="B-1/../x"), "backlog_id"),
        (lambda s: s.get_entries("s-1", kinds=["note", "evil"]), "kinds[1]"),
        (lambda s: s.search(""), "query"),
        (lambda s: s.context(max_chars=10), "max_chars"),
        (lambda s: s.context(sections=["git", "rm -rf"]), "sections[1]"),
        (lambda s: s.update_session("s-1", status="completed"), "status"),
        (lambda s: s.append_entry("x", request_id=""), "request_id"),
    ],
)
async def test_python_api_checks_its_arguments(repo: Path, tmp_path: Path, call, field: str) -> None:
    before = tree_digest(tmp_path, skip=repo)
    async with Scribe(repo) as scribe:
        await scribe.start_session()
        with pytest.raises(ScribeError) as info:
            await call(scribe)
    assert info.value.code == -32602
    assert info.value.message.startswith(f"{field}: ")
    assert tree_digest(tmp_path, skip=repo) == before
    assert sorted(p.name for p in (repo / ".scribe" / "worklogs").iterdir() if p.suffix == ".md") == [
        "B-4242.md"
    ]


def test_the_store_refuses_unknown_kinds_and_statuses(repo: Path) -> None:
    import sqlite3

    run_cli(repo, "start")
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    session_id = db.execute("SELECT id FROM sessions").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO entries (session_id, at, kind, text) VALUES (?, 'x', 'shell', 't')", (session_id,)
        )
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE sessions SET status = 'hacked'")
    db.close()


# -- redirections: what a repository names outside itself is neither read nor written ----


def _victim_project(path: Path) -> Path:
    """Another project of the user's, with a store holding a confidential decision."""
    victim = make_git_repo(path, branch="feature/B-9999-payroll")
    assert run_cli(victim, "start", "--title", "payroll").returncode == 0
    assert run_cli(victim, "append", "raise everyone by 3 percent", "--kind", "decision").returncode == 0
    return victim


def test_a_store_named_by_pyproject_is_never_read_nor_written(tmp_path: Path) -> None:
    victim = _victim_project(tmp_path / "payroll")
    repo = make_git_repo(tmp_path / "repo")
    (repo / "pyproject.toml").write_text('[tool.scribe]\nstore = "../payroll/.scribe"\n')
    before = tree_digest(tmp_path, skip=repo)
    answers = asyncio.run(exercise(repo))
    found = run_cli(repo, "search", "percent")
    assert tree_digest(tmp_path, skip=repo) == before
    assert "raise everyone" not in found.stdout and "raise everyone" not in json.dumps(answers)
    assert answers[0]["result"]["backlogId"] == "B-4242" and (repo / ".scribe" / "scribe.db").is_file()
    assert any("store is not read from configuration files" in m for m in answers[-1]["messages"])
    assert (victim / ".scribe" / "scribe.db").is_file()


async def test_a_fake_worktree_record_is_not_followed(tmp_path: Path) -> None:
    """``.git/worktrees/x/gitdir`` naming another project: that project is not a sibling, its
    session is not shown and nothing is written into its store."""
    victim = _victim_project(tmp_path / "payroll")
    repo = make_git_repo(tmp_path / "repo")
    record = repo / ".git" / "worktrees" / "x"
    record.mkdir(parents=True)
    (record / "gitdir").write_text(f"{victim}/.git\n")
    (record / "commondir").write_text("../..\n")
    (record / "HEAD").write_text("ref: refs/heads/feature/B-9999-payroll\n")
    (victim / "shared.py").write_text("x = 1\n")
    before = tree_digest(tmp_path, skip=repo)
    peer = await RawPeer.start(repo)
    try:
        await peer.request(2, "scribe/startSession", {})
        (repo / "shared.py").write_text("y = 2\n")  # the victim's session touched a shared.py
        await asyncio.sleep(0.5)
        packet = (await peer.request(3, "scribe/getContext", {"sections": ["sessions"]}))["result"]
    finally:
        await peer.close()
    assert packet["sections"]["sessions"]["data"] == []
    assert "payroll" not in json.dumps(packet)
    assert tree_digest(tmp_path, skip=repo) == before


def test_a_linked_worktree_that_points_back_is_still_a_sibling(tmp_path: Path) -> None:
    from scribe_ls.git.files import sibling_worktrees

    repo = make_git_repo(tmp_path / "repo")
    git(repo, "worktree", "add", "-q", "-b", "feature/B-5-x", str(tmp_path / "wt"))
    assert sibling_worktrees(repo) == [(tmp_path / "wt").resolve()]
    assert sibling_worktrees(tmp_path / "wt") == [repo.resolve()]


@pytest.mark.parametrize("shape", ["info-link", "commondir"])
def test_a_git_dir_that_points_elsewhere_is_never_written_through(
    tmp_path: Path, victim: Path, shape: str
) -> None:
    """``.git/info`` a link to another directory, or a ``.git`` file whose git dir names a
    ``commondir`` elsewhere: git reads through them as git would, scribe-ls writes nothing
    there (the store keeps itself out of git with its own .gitignore)."""
    repo = make_git_repo(tmp_path / "repo")
    if shape == "info-link":
        shutil.rmtree(repo / ".git" / "info")
        (repo / ".git" / "info").symlink_to(victim / "dir")
    else:
        elsewhere = make_git_repo(tmp_path / "elsewhere")
        own = repo / ".gitdir"
        shutil.move(str(repo / ".git"), own)
        for name in ("info", "refs", "objects"):
            shutil.rmtree(own / name, ignore_errors=True)
        (own / "commondir").write_text(f"{elsewhere}/.git\n")
        (repo / ".git").write_text("gitdir: .gitdir\n")
        victim = elsewhere / ".git"
    before = tree_digest(tmp_path, skip=repo)
    answers = asyncio.run(exercise(repo))
    assert tree_digest(tmp_path, skip=repo) == before
    assert answers[0]["result"]["backlogId"] == "B-4242"
    assert (repo / ".scribe" / ".gitignore").read_text().splitlines()[-1] == "*"


@pytest.mark.skipif(os.getuid() != 0, reason="needs to give a directory to another user (root)")
def test_another_users_repository_in_a_parent_is_not_adopted(tmp_path: Path) -> None:
    """``/tmp/.git`` planted by another user: a project under it is a plain directory of
    its own, as git refuses the repository too, and the user is told why."""
    shared = tmp_path / "shared"
    shared.mkdir()
    git(shared, "init", "-q")
    (shared / "planted.txt").write_text("from another user\n")
    project = shared / "project"
    project.mkdir()
    (project / "mine.py").write_text("x = 1\n")
    for dirpath, dirnames, filenames in os.walk(shared):
        if Path(dirpath).is_relative_to(project):
            continue
        for name in [dirpath, *(os.path.join(dirpath, n) for n in [*dirnames, *filenames])]:
            os.lchown(name, 4242, 4242)
    before = tree_digest(shared, skip=project)
    started = run_cli(project, "start")
    assert started.returncode == 0, started.stderr
    assert "owned by another user (uid 4242)" in started.stderr and "safe.directory" in started.stderr
    assert (project / ".scribe" / "scribe.db").is_file() and not (shared / ".scribe").exists()
    packet = json.loads(run_cli(project, "context", "--format", "json").stdout)
    assert "owned by another user" in packet["sections"]["git"]["error"]
    assert "planted.txt" not in json.dumps(packet)
    assert tree_digest(shared, skip=project) == before
