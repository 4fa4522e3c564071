"""git run on scribe-ls's behalf never executes a program the repository names.

Each vector plants, in a fresh repository, one way a repository (its ``.git/config``, the
files that config includes, its worktree config, ``.gitattributes``, ``info/attributes``,
its hooks) can name a program; the program touches a marker file. First the vectors are
shown to be live: the plain git commands scribe-ls used to run set some of them off (so
these tests can fail). Then every hardened git call, and every route a user or an agent
takes (the CLI, the stdio server with the resume offer on initialize and an editor's
didOpen, its background summaries, the MCP server), runs with all of them planted at once,
and no marker appears, while the packet still shows status, diff and commits."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from scribe_ls.git import commands as scribe_git
from scribe_ls.git import safety as gitsafe

from .helpers import git, make_git_repo, run_cli
from .rawrpc import RawPeer
from .test_mcp import agent, packet_json, packet_text, structured

pytestmark = pytest.mark.timeout(120)


def _touch(markers: Path, name: str) -> str:
    """A shell command that leaves ``markers/name`` behind (git runs config commands with sh)."""
    return f"touch '{markers / name}'"


def _config(repo: Path, *pairs: str) -> None:
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        git(repo, "config", "--local", "--add", key, value)


def _attributes(repo: Path, line: str, where: str = ".gitattributes") -> None:
    path = repo / where
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write(line + "\n")


def _hook(directory: Path, markers: Path, name: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for hook in ("post-index-change", "post-checkout", "pre-auto-gc", "reference-transaction"):
        script = directory / hook
        script.write_text(f"#!/bin/sh\n{_touch(markers, name)}\n")
        script.chmod(0o755)


def _signed_head(repo: Path) -> None:
    """Make HEAD a commit with a (fake) signature, so that log.showSignature has one to check."""
    raw = git(repo, "cat-file", "commit", "HEAD")
    header, _, message = raw.partition("\n\n")
    signature = " -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----"
    signed = f"{header}\ngpgsig{signature}\n\n{message}"
    sha = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=repo, input=signed, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    git(repo, "update-ref", "HEAD", sha)


def _include(repo: Path, markers: Path, name: str, key: str) -> None:
    """``key`` (an include) names a file in the work tree that turns core.fsmonitor on."""
    (repo / f"{name}.cfg").write_text(f'[core]\n\tfsmonitor = "{_touch(markers, name)}; false"\n')
    _config(repo, key, f"../{name}.cfg")


# name -> plants it in ``repo`` (markers go to ``markers/<name>``).
VECTORS: dict[str, Callable[[Path, Path, str], None]] = {
    "core.fsmonitor": lambda r, m, n: _config(r, "core.fsmonitor", f"{_touch(m, n)}; false"),
    "include.path": lambda r, m, n: _include(r, m, n, "include.path"),
    "includeIf.onbranch": lambda r, m, n: _include(r, m, n, "includeIf.onbranch:feature/**.path"),
    "includeIf.gitdir": lambda r, m, n: _include(r, m, n, f"includeIf.gitdir:{r}/.git.path"),
    "config.worktree": lambda r, m, n: (
        _config(r, "core.repositoryFormatVersion", "1", "extensions.worktreeConfig", "true"),
        git(r, "config", "--worktree", "core.fsmonitor", f"{_touch(m, n)}; false"),
    ),
    "filter.clean": lambda r, m, n: (
        _config(r, f"filter.{n}.clean", f"{_touch(m, n)}; cat"), _attributes(r, f"*.txt filter={n}")
    ),
    "filter.smudge": lambda r, m, n: (
        _config(r, f"filter.{n}.smudge", f"{_touch(m, n)}; cat"), _attributes(r, f"*.txt filter={n}")
    ),
    "filter.process": lambda r, m, n: (
        _config(r, f"filter.{n}.process", _touch(m, n), f"filter.{n}.required", "true"),
        _attributes(r, f"*.txt filter={n}"),
    ),
    "filter.required+include": lambda r, m, n: (
        (r / "drivers.cfg").write_text(f'[filter "{n}"]\n\tclean = "{_touch(m, n)}; cat"\n\trequired = 1\n'),
        _config(r, "include.path", "../drivers.cfg"),
        _attributes(r, f"*.txt filter={n}"),
    ),
    "filter via info/attributes": lambda r, m, n: (
        _config(r, f"filter.{n}.clean", f"{_touch(m, n)}; cat"),
        _attributes(r, f"* filter={n}", ".git/info/attributes"),
    ),
    "filter via core.attributesFile": lambda r, m, n: (
        _config(r, f"filter.{n}.clean", f"{_touch(m, n)}; cat", "core.attributesFile", str(r / "attrs")),
        _attributes(r, f"*.txt filter={n}", "attrs"),
    ),
    "diff.textconv": lambda r, m, n: (
        _config(r, f"diff.{n}.textconv", f"{_touch(m, n)}; cat"), _attributes(r, f"*.txt diff={n}")
    ),
    "diff.command": lambda r, m, n: (
        _config(r, f"diff.{n}.command", f"{_touch(m, n)}; true"), _attributes(r, f"*.txt diff={n}")
    ),
    "diff.external": lambda r, m, n: _config(r, "diff.external", f"{_touch(m, n)}; true"),
    "core.hooksPath": lambda r, m, n: (
        _hook(r / "hooks", m, n), _config(r, "core.hooksPath", str(r / "hooks"))
    ),
    ".git/hooks": lambda r, m, n: _hook(r / ".git" / "hooks", m, n),
    "core.pager": lambda r, m, n: _config(r, "core.pager", f"{_touch(m, n)}; cat"),
    "pager.<command>": lambda r, m, n: _config(
        r, "pager.status", f"{_touch(m, n)}; cat", "pager.diff", f"{_touch(m, n)}; cat",
        "pager.log", f"{_touch(m, n)}; cat",
    ),
    "gpg.program": lambda r, m, n: (
        _config(r, "log.showSignature", "true", "gpg.program", _touch(m, n)), _signed_head(r)
    ),
    "core.sshCommand": lambda r, m, n: _config(
        r, "core.sshCommand", _touch(m, n), "remote.origin.url", "ssh://example.invalid/x.git"
    ),
    "credential.helper": lambda r, m, n: _config(r, "credential.helper", f"!{_touch(m, n)}"),
    "core.askPass": lambda r, m, n: _config(r, "core.askPass", _touch(m, n)),
    "core.editor": lambda r, m, n: _config(r, "core.editor", _touch(m, n), "sequence.editor", _touch(m, n)),
    "uploadpack.packObjectsHook": lambda r, m, n: _config(
        r, "uploadpack.packObjectsHook", _touch(m, n), "core.alternateRefsCommand", _touch(m, n)
    ),
}  # fmt: skip
# Set off by the git commands scribe-ls ran before it was hardened (see the first test);
# the others are dormant for those commands (hooks: optional locks were off; pagers: no
# terminal; external diffs: --no-ext-diff; signatures: a custom format) and are planted all
# the same: a later command must not wake them.
LIVE = {
    "core.fsmonitor", "include.path", "includeIf.onbranch", "includeIf.gitdir", "config.worktree",
    "filter.clean", "filter.process", "filter.required+include", "filter via info/attributes",
    "filter via core.attributesFile", "diff.textconv",
}  # fmt: skip


def hostile_repo(path: Path, markers: Path, vectors: list[str]) -> Path:
    """A repository with ``vectors`` planted, a tracked file changed (same size, so git has
    to read it through its filters to tell), an untracked one, and two commits."""
    repo = make_git_repo(path)
    markers.mkdir(parents=True, exist_ok=True)
    (repo / "notes.txt").write_text("first line\n")
    (repo / "data.bin").write_text("binary-ish\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "add notes")
    for name in vectors:
        VECTORS[name](repo, markers, driver_name(name))
    for marker in markers.iterdir():
        marker.unlink()  # set off by this setup's own git commands (update-ref runs hooks)
    (repo / "notes.txt").write_text("other line\n")  # same size as before
    os.utime(repo / "notes.txt", (1, 1))
    (repo / "new.txt").write_text("untracked\n")
    return repo


def driver_name(vector: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in vector)


def fired(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


# The git commands scribe-ls ran before this hardening, as it ran them.
PLAIN = [
    ["status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all"],
    ["diff", "HEAD", "--numstat", "-z", "--no-renames"],
    ["diff", "HEAD", "--no-color", "--no-ext-diff", "-U3", "--no-renames"],
    ["log", "-n10", "--format=%H%x1f%an%x1f%aI%x1f%s%x1e"],
    ["show", "--no-renames", "--name-only", "--format=%s%x00", "HEAD"],
]


@pytest.mark.parametrize("vector", sorted(VECTORS))
def test_each_vector_is_live_for_plain_git(tmp_path: Path, vector: str) -> None:
    """The planted programs do run under the git commands scribe-ls used to run: the
    checks below would catch a hardening that missed one."""
    markers = tmp_path / "markers"
    repo = hostile_repo(tmp_path / "repo", markers, [vector])
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
    for args in PLAIN:
        subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=repo, env=env, capture_output=True, check=False
        )
    if vector in LIVE:
        assert fired(markers), f"{vector} did not fire under plain git: the test would prove nothing"
    else:
        assert not fired(markers)  # dormant for these commands; still planted below


async def _every_hardened_call(repo: Path) -> dict[str, object]:
    from scribe_ls.store.layout import Layout

    status = await scribe_git.status(repo)
    diff = await scribe_git.work_tree_diff(repo)
    numstat = await scribe_git.numstat(repo)
    commits = await scribe_git.recent_commits(repo, 10)
    summary = await scribe_git.commit_summary(repo, commits[0].sha)
    tracked = await asyncio.to_thread(gitsafe.run, repo, "ls-files", "-z")
    (repo / ".scribe").mkdir(exist_ok=True)
    await asyncio.to_thread(Layout(repo)._check_not_tracked)
    return {
        "status": status,
        "diff": diff,
        "numstat": numstat,
        "commits": commits,
        "summary": summary,
        "tracked": tracked,
    }


@pytest.mark.parametrize("vector", sorted(VECTORS))
async def test_hardened_git_runs_no_planted_program_and_still_answers(tmp_path: Path, vector: str) -> None:
    markers = tmp_path / "markers"
    repo = hostile_repo(tmp_path / "repo", markers, [vector])
    found = await _every_hardened_call(repo)
    assert fired(markers) == []
    status = found["status"]
    assert {(f.path, f.status) for f in status.files} >= {("notes.txt", "modified"), ("new.txt", "untracked")}  # type: ignore[attr-defined]
    assert any(h.path == "notes.txt" and "+other line" in h.text for h in found["diff"].hunks)  # type: ignore[attr-defined]
    assert [c.subject for c in found["commits"]][:2] == ["add notes", "initial"]  # type: ignore[attr-defined]
    assert b"notes.txt" in found["tracked"]  # type: ignore[operator]


def test_all_vectors_at_once_and_a_user_driver_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every vector planted, the overrides empty the repository's drivers, and a
    driver the user defines in their own global config (git-lfs, say) keeps the user's
    command (the repository redefining it does not win)."""
    markers = tmp_path / "markers"
    repo = hostile_repo(tmp_path / "repo", markers, sorted(VECTORS))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        '[filter "lfs"]\n\tprocess = git-lfs filter-process\n\trequired = true\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    _config(repo, "filter.lfs.process", _touch(markers, "lfs"))
    env = gitsafe.environment(repo, gitsafe.repo_dirs(repo))
    argv = gitsafe.argv(*gitsafe.CONFIG_LIST_ARGS)
    listed = subprocess.run(argv, cwd=repo, env=env, capture_output=True, check=True).stdout
    overrides = dict(gitsafe.driver_overrides(gitsafe.parse_config_list(listed)))
    assert overrides["filter.lfs.process"] == "git-lfs filter-process"
    assert overrides["filter.lfs.required"] == "true"
    assert overrides["filter.filter-clean.clean"] == "" and overrides["filter.filter-process.process"] == ""
    assert overrides["filter.filter-required-include.required"] == "false"
    assert fired(markers) == []


def test_core_worktree_cannot_move_the_work_tree(tmp_path: Path) -> None:
    """``core.worktree`` pointing at a home directory: git status shows the repository's
    own files, never the home directory's."""
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    (home / ".docker" / "config.json").write_text('{"auths": {}}\n')
    (home / ".bash_history").write_text("mysql -pS3cret\n")
    repo = make_git_repo(tmp_path / "repo")
    (repo / "mine.py").write_text("x = 1\n")
    _config(repo, "core.worktree", str(home))
    assert run_cli(repo, "start").returncode == 0
    done = run_cli(repo, "context", "--format", "json", "--sections", "git,diff")
    assert done.returncode == 0, done.stderr
    packet = json.loads(done.stdout)
    paths = {f["path"] for f in packet["sections"]["git"]["data"]["files"]}
    assert paths == {"mine.py"}
    assert ".docker" not in done.stdout and "bash_history" not in done.stdout


# -- every route, every vector planted ----------------------------------------------------


@pytest.fixture
def armed(tmp_path: Path, user_config: Callable[[str], Path]) -> tuple[Path, Path]:
    """A repository with every vector planted, a session recorded and then paused (so an
    editor opening it is offered the resume packet), background summaries after every
    entry (the user's setting: a repository may not ask for that much work)."""
    user_config("summary_every = 1\n")
    markers = tmp_path / "markers"
    repo = hostile_repo(tmp_path / "repo", markers, sorted(VECTORS))
    (repo / ".scribe").mkdir()
    (repo / ".scribe" / "config.toml").write_text("activity_window = 0.2\n")
    started = run_cli(repo, "start", "--json")
    assert started.returncode == 0, started.stderr
    session = json.loads(started.stdout)
    assert run_cli(repo, "append", "key the cache by HEAD", "--kind", "decision").returncode == 0
    paused = run_cli(
        repo, "call", "scribe/updateSession", json.dumps({"sessionId": session["id"], "status": "paused"})
    )
    assert paused.returncode == 0, paused.stderr
    return repo, markers


def _shows_the_work(packet: dict) -> None:
    sections = packet["sections"]
    assert {f["path"] for f in sections["git"]["data"]["files"]} >= {"notes.txt", "new.txt"}
    assert any("+other line" in h["text"] for h in sections["diff"]["data"]["hunks"])
    assert [c["subject"] for c in sections["commits"]["data"]][:2] == ["add notes", "initial"]


def test_the_cli_runs_no_planted_program(armed: tuple[Path, Path]) -> None:
    repo, markers = armed
    done = run_cli(repo, "context", "--format", "json", "--max-chars", "100000")
    assert done.returncode == 0, done.stderr
    _shows_the_work(json.loads(done.stdout))
    for verb in (["context"], ["resume"], ["summarize"], ["status"], ["validate"]):
        assert run_cli(repo, *verb).returncode == 0, verb
    assert fired(markers) == []


async def test_the_server_and_an_editor_run_no_planted_program(armed: tuple[Path, Path]) -> None:
    repo, markers = armed
    peer = await RawPeer.start(repo)
    try:
        # The resume offer after initialize reads git status: it came, and ran nothing.
        await _until(peer, lambda: any(n["method"] == "scribe/resumeAvailable" for n in peer.notifications))
        document = {"uri": (repo / "notes.txt").as_uri(), "languageId": "text", "version": 1, "text": "x\n"}
        await peer.send(
            {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": document}}
        )
        current = (await peer.request(2, "scribe/status", {}))["result"]["currentSession"]
        resumed = await peer.request(
            3, "scribe/updateSession", {"sessionId": current["id"], "status": "active"}
        )
        assert "result" in resumed, resumed
        for index in range(3):  # each entry asks for a background summary
            assert "result" in await peer.request(
                10 + index, "scribe/appendEntry", {"text": f"done: step {index}"}
            )
        (repo / "notes.txt").write_text("third line\n")  # a save the recorder sees
        packet = (await peer.request(20, "scribe/getContext", {"maxChars": 100000}))["result"]
        markdown = (await peer.request(21, "scribe/getContext", {"format": "markdown"}))["result"]
        resume = await peer.request(22, "scribe/resume", {})
        summary = await peer.request(23, "scribe/summarize", {})
        await _until(peer, lambda: any(n["method"] == "scribe/summaryReady" for n in peer.notifications))
    finally:
        await peer.close()
    assert "result" in resume and "result" in summary
    assert {f["path"] for f in packet["sections"]["git"]["data"]["files"]} >= {"notes.txt", "new.txt"}
    assert [c["subject"] for c in packet["sections"]["commits"]["data"]][:2] == ["add notes", "initial"]
    assert "notes.txt" in markdown["markdown"]
    assert fired(markers) == []


async def test_an_agent_over_mcp_runs_no_planted_program(armed: tuple[Path, Path]) -> None:
    repo, markers = armed
    async with agent(repo) as client:
        packet = packet_json(
            await client.call_tool("scribe_context", {"format": "json", "max_chars": 100000})
        )
        packet_text(await client.call_tool("scribe_context", {}))
        structured(await client.call_tool("scribe_resume", {}))
        structured(await client.call_tool("scribe_summarize", {}))
        await client.get_prompt("resume", {})
        await client.read_resource("scribe://context")
    _shows_the_work(packet)
    assert fired(markers) == []


async def _until(peer: RawPeer, check: Callable[[], bool], timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not check():
            try:
                peer.stray.append(await peer.next(0.2))
            except TimeoutError:
                pass

    await asyncio.wait_for(wait(), timeout)


def test_the_daemon_hand_off_is_the_users_to_allow(tmp_path: Path) -> None:
    """``daemon = true`` in a repository cannot turn the hand-off on against the user's
    ``daemon = false``, nor raise the message cap; the CLI says so, and no daemon starts."""
    repo = make_git_repo(tmp_path / "repo")
    home = tmp_path / "config"
    (home / "scribe-ls").mkdir(parents=True)
    (home / "scribe-ls" / "config.toml").write_text("daemon = false\n")
    (repo / "pyproject.toml").write_text("[tool.scribe]\ndaemon = true\nmax_message_bytes = 1073741824\n")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_CONFIG_HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("SCRIBE_LS_DAEMON", None)
    done = run_cli(repo, "start", env=env)
    assert done.returncode == 0, done.stderr
    assert "daemon = True is wider than your own configuration allows" in done.stderr
    assert "max_message_bytes = 1073741824 is wider" in done.stderr
    assert "recording in the background" not in done.stderr
    assert not (runtime / "scribe-ls").exists()  # no daemon's lock or socket


def test_the_configuration_is_read_only_when_it_can_name_a_driver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository whose config mentions no filter and no include costs no extra git
    process; one that does is asked (once, then cached until a source file changes)."""
    repo = make_git_repo(tmp_path / "repo")
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting(argv: list[str], *args: object, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(argv)
        return real_run(argv, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess, "run", counting)
    gitsafe._known.clear()
    gitsafe.run(repo, "ls-files")
    assert [argv[3] for argv in calls] == ["ls-files"]
    _config(repo, "filter.x.clean", "cat")
    calls.clear()
    gitsafe.run(repo, "ls-files")
    gitsafe.run(repo, "ls-files")
    assert [argv[3] for argv in calls] == ["config", "ls-files", "ls-files"]
