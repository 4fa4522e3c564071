"""Odd repository contents never break a request or block: a branch name that is not
UTF-8, FIFOs where git or scribe-ls read (``.git/HEAD``, ``.gitignore``,
``pyproject.toml``), and file names with line breaks and other controls, recorded escaped
with the rest of their batch."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from scribe_ls.repofiles import printable_name, read_regular, read_regular_bytes
from scribe_ls.rpc.client import ScribeClient

from .helpers import configure, git, run_cli
from .test_recording import armed
from .test_true_facts import recorded_files, settle

pytestmark = pytest.mark.timeout(90)

LATIN1_BRANCH = b"feature/B-4242-caf\xe9"


def checkout_latin1_branch(repo: Path) -> None:
    """git accepts any bytes in a ref name but a few; Python's subprocess passes str, so the
    ref is written as git would write it."""
    sha = git(repo, "rev-parse", "HEAD").strip()
    (repo / ".git" / "refs" / "heads" / os.fsdecode(LATIN1_BRANCH)).write_text(sha + "\n")
    (repo / ".git" / "HEAD").write_bytes(b"ref: refs/heads/" + LATIN1_BRANCH + b"\n")


def git_processes_in(repo: Path) -> list[int]:
    """git processes whose working directory is ``repo`` (the ones we started there)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") == str(repo) and b"git" in (entry / "cmdline").read_bytes()[:8]:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_branch_name_that_is_not_utf8_is_shown_escaped_by_the_cli(repo: Path) -> None:
    checkout_latin1_branch(repo)
    for verb in (["start"], ["status"], ["context"], ["resume"], ["stop"]):
        done = run_cli(repo, *verb)
        assert done.returncode == 0, (verb, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
    assert "caf\\xe9" in run_cli(repo, "list").stdout  # the default title, from the branch's words


async def test_a_branch_name_that_is_not_utf8_answers_every_request(repo: Path) -> None:
    checkout_latin1_branch(repo)
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        assert session["branch"] == "feature/B-4242-caf\\xe9"
        assert session["backlogId"] == "B-4242"
        status = await client.request("scribe/status", {})
        assert status["currentSession"]["id"] == session["id"]
        packet = await client.request("scribe/getContext", {})
        assert all(section["ok"] for section in packet["sections"].values()), packet
        assert packet["sections"]["git"]["data"]["branch"] == "feature/B-4242-caf\\xe9"
        await client.request("scribe/appendEntry", {"text": "still works"})
        # Markdown escapes the backslash: a reader sees feature/B-4242-caf\xe9.
        assert "caf\\\\xe9" in (await client.request("scribe/resume", {}))["markdown"]
    finally:
        await client.close()


@pytest.mark.parametrize("where", [".git/HEAD", ".git/index", ".gitignore", ".gitattributes"])
async def test_a_fifo_where_git_reads_is_an_error_not_a_hang(repo: Path, where: str) -> None:
    target = repo / where
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {"backlogId": "B-7"})
        packet = await asyncio.wait_for(client.request("scribe/getContext", {}), 20)
        git_section = packet["sections"]["git"]
        assert not git_section["ok"]
        assert f"{where} is a FIFO, a device or a socket" in git_section["error"]
        assert packet["sections"]["worklog"]["ok"]  # the rest of the packet is there
        assert git_processes_in(repo) == []  # no git was left waiting on the FIFO
    finally:
        await client.close()
    # The CLI: start returns, context prints, nothing hangs (run_cli's 30 s timeout).
    for verb in (["start", "--backlog-id", "B-8"], ["context"], ["status"]):
        done = run_cli(repo, *verb)
        assert done.returncode == 0 and "Traceback" not in done.stderr, (verb, done.stderr)
    assert git_processes_in(repo) == []


def test_a_fifo_pyproject_and_scribe_config_do_not_block_the_cli(repo: Path) -> None:
    os.mkfifo(repo / "pyproject.toml")
    done = run_cli(repo, "start", "--backlog-id", "B-9")
    assert done.returncode == 0, done.stderr
    (repo / ".scribe" / "config.toml").unlink(missing_ok=True)
    os.mkfifo(repo / ".scribe" / "config.toml")
    done = run_cli(repo, "status")
    assert "Traceback" not in done.stderr and "timed out" not in done.stderr, done.stderr


async def test_file_names_with_line_breaks_are_recorded_escaped_with_their_batch(repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    client = await ScribeClient.spawn(repo)
    try:
        session = await client.request("scribe/startSession", {})
        await armed(client, repo)
        await settle(client)
        baseline = await recorded_files(client, session["id"])
        for name in ("a.py", "b.py", "c\nd.py", "tab\there.py", "bell\x07.py"):
            (repo / name).write_text("x\n")
        (repo / os.fsdecode(b"latin\xe9.py")).write_text("x\n")
        await settle(client)
        files = await recorded_files(client, session["id"]) - baseline
        assert files == {"a.py", "b.py", "c\\nd.py", "tab\\there.py", "bell\\x07.py", "latin\\xe9.py"}
        worklog = (await client.request("scribe/getSession", {"sessionId": session["id"]}))["worklogPath"]
        text = await asyncio.to_thread(Path(worklog).read_text, encoding="utf-8")
        assert "  - c\\nd.py\n" in text and "\nd.py" not in text
    finally:
        await client.close()


# Pure logic.


def test_printable_name() -> None:
    assert printable_name("plain/name.py") == "plain/name.py"
    assert printable_name("c\nd\r.py") == "c\\nd\\r.py"
    assert printable_name("x\u2028y\x85z") == "x\\u2028y\\x85z"
    assert printable_name(os.fsdecode(b"bad\xff.txt")) == "bad\\xff.txt"


def test_read_regular_refuses_fifos_links_and_bounds_its_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    assert read_regular(tmp_path / "fifo") is None  # returns at once: nothing blocks
    (tmp_path / "big").write_bytes(b"x" * 5000)
    assert read_regular_bytes(tmp_path / "big", limit=100) == b"x" * 100
    (tmp_path / "link").symlink_to(tmp_path / "big")
    assert read_regular(tmp_path / "link") is None
    (tmp_path / "latin").write_bytes(b"caf\xe9")
    assert read_regular(tmp_path / "latin") == "caf\\xe9"
    assert read_regular(tmp_path / "missing") is None


def peak_rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


async def test_a_huge_diff_is_cut_with_memory_bounded(repo: Path) -> None:
    """A 150 MB text diff: the packet says the diff was cut, and the server never holds it
    (before: the whole diff was read, decoded and split, ~3x its size in memory)."""
    line = "y" * 99 + "\n"
    with (repo / "README.md").open("w") as handle:
        for _ in range(150):
            handle.write(line * 10_000)  # 1 MB at a time
    client = await ScribeClient.spawn(repo)
    try:
        await client.request("scribe/startSession", {})
        packet = await asyncio.wait_for(
            client.request("scribe/getContext", {"sections": ["diff"], "maxChars": 8000}), 60
        )
        diff = packet["sections"]["diff"]
        assert diff["ok"] and diff["data"]["files"][0]["path"] == "README.md"
        assert diff["data"]["files"][0]["added"] == 1_500_000  # the counts are whole
        assert diff["data"]["cut"] or diff.get("leftOut"), diff.keys()
        assert client.process is not None
        assert peak_rss_mb(client.process.pid) < 150  # well under the diff's own size
    finally:
        await client.close()
