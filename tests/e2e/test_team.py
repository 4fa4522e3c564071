"""Sharing through the repository's own git remote: a bare repository as the remote, clones
as developers (each with their own $HOME, XDG dirs and git identity), `scribe-ls share on`
and `scribe-ls sync` run as they would run them, the real store and the remote's objects
read back with git."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import git

SECRET = "sk-ant-api03-" + "Zq7" * 30


class Developer:
    """One developer at one clone: their home, their XDG dirs, their git identity."""

    def __init__(self, base: Path, remote: Path, name: str, email: str, branch: str, clone: str = "") -> None:
        self.home = base / f"home-{email.split('@')[0]}"
        for sub in ("", ".config", ".local/state", "run"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.home / "run", 0o700)
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local/state"),
            "XDG_RUNTIME_DIR": str(self.home / "run"),
            "GIT_CONFIG_GLOBAL": str(self.home / ".gitconfig"),
            "SCRIBE_LS_DAEMON": "0",
        }
        self.root = base / (clone or email.split("@")[0])
        self.git("clone", "-q", str(remote), str(self.root), cwd=base)
        self.git("config", "user.email", email)
        self.git("config", "user.name", name)
        self.git("checkout", "-q", "-b", branch)

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.root, env=self.env, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "scribe_ls", *args],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if ok:
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def sync(self) -> dict[str, Any]:
        return json.loads(self.cli("sync", "--json").stdout)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    seed = tmp_path / "seed"
    subprocess.run(["git", "init", "-q", "-b", "main", str(seed)], check=True)
    git(seed, "config", "user.email", "seed@example.com")
    git(seed, "config", "user.name", "Seed")
    (seed / "src").mkdir()
    (seed / "src" / "x.py").write_text("x = 1\n")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", str(bare), "main")
    subprocess.run(["git", "--git-dir", str(bare), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    return bare


@pytest.fixture
def ana(tmp_path: Path, remote: Path) -> Developer:
    return Developer(tmp_path, remote, "Ana Lima", "ana@example.com", "feature/B-1300-cache")


@pytest.fixture
def bo(tmp_path: Path, remote: Path) -> Developer:
    return Developer(tmp_path, remote, "Bo Chen", "bo@example.com", "feature/B-1400-auth")


def sharing(*developers: Developer) -> None:
    for dev in developers:
        dev.cli("start")
        assert "sharing with origin" in dev.cli("share", "on").stdout


def remote_objects(remote: Path) -> bytes:
    """Every object in the remote, its content (what anyone who can fetch can read)."""
    listed = subprocess.run(
        ["git", "--git-dir", str(remote), "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return subprocess.run(
        ["git", "--git-dir", str(remote), "cat-file", "--batch"],
        input=listed,
        capture_output=True,
        check=True,
    ).stdout


def test_a_session_a_note_and_a_file_change_reach_a_teammate_after_one_sync(
    ana: Developer, bo: Developer
) -> None:
    sharing(ana, bo)
    ana.cli("append", "--file", "src/x.py", "--kind", "decision", "cache the packet per HEAD")
    assert ana.sync()["pushed"] is True
    seen = bo.sync()
    assert sum(seen["imported"].values()) >= 5 and seen["warnings"] == []

    (person,) = json.loads(bo.cli("team", "--json").stdout)["people"]
    assert person["author"] == "Ana Lima <ana@example.com>" and person["verified"] is True
    (session,) = person["sessions"]
    assert session["item"] == "B-1300" and session["files"] == ["src/x.py"] and session["status"] == "active"
    timeline = bo.cli("team", "--item", "B-1300").stdout
    assert "Ana Lima <ana@example.com>  decision: cache the packet per HEAD [src/x.py]" in timeline
    assert "B-1300 active since" in bo.cli("team").stdout


def test_the_team_reports_say_each_persons_time_decisions_and_commits(ana: Developer, bo: Developer) -> None:
    sharing(ana, bo)
    bo.cli("append", "--kind", "decision", "use oauth, not api keys")

    async def commit_recorded() -> None:  # Bo's editor records the commit
        client = await ScribeClient.spawn(bo.root, env=bo.env)
        try:
            await client.request("scribe/status", {})
            (bo.root / "oauth.py").write_text("FLOW = 1\n")
            bo.git("add", "oauth.py")
            bo.git("commit", "-q", "-m", "Add the oauth flow")
            while True:
                params = await client.next_notification("scribe/entryAdded", timeout=15)
                if params["entry"]["kind"] == "commit":
                    return
        finally:
            await client.close()

    asyncio.run(commit_recorded())
    bo.sync()
    ana.sync()
    rows = json.loads(ana.cli("report", "--team", "--json").stdout)["rows"]
    assert {(r["teammate"], r["item"]) for r in rows} == {
        ("you", "B-1300"),
        ("Bo Chen <bo@example.com>", "B-1400"),
    }
    team = json.loads(ana.cli("report", "standup", "--team", "--json").stdout)
    assert team["kind"] == "team" and [p["author"] for p in team["people"]] == [
        "you",
        "Bo Chen <bo@example.com>",
    ]
    (item,) = team["people"][1]["items"]
    assert item["item"] == "B-1400" and item["title"] == "auth"
    assert item["decisions"] == ["use oauth, not api keys"]
    assert [commit.split(" ", 1)[1] for commit in item["commits"]] == ["Add the oauth flow"]
    shown = ana.cli("report", "team", "--format", "markdown").stdout
    assert (
        "### Bo Chen \\<bo@example.com\\>" in shown and "- B-1400 decided: use oauth, not api keys" in shown
    )
    refused = ana.cli("report", "--team", "--by", "day", ok=False)
    assert refused.returncode == 1 and "--by" in refused.stderr


def test_nothing_is_shared_until_sharing_is_turned_on_and_the_dry_run_writes_nothing(
    ana: Developer, remote: Path
) -> None:
    ana.cli("start")
    refused = ana.cli("sync", ok=False)
    assert refused.returncode == 1 and "sharing is off" in refused.stderr
    assert "sharing: off" in ana.cli("share").stdout
    ana.cli("share", "on")
    shown = ana.cli("share", "--dry-run").stdout
    assert "the next sync writes" in shown and '"t": "session"' in shown and "B-1300" in shown
    assert "refs/scribe/" not in ana.git("for-each-ref"), "a dry run writes no ref"
    assert "scribe" not in git(remote, "for-each-ref"), "nor anything on the remote"
    ana.cli("share", "off")
    assert ana.cli("sync", ok=False).returncode == 1


def test_a_secret_in_a_note_never_reaches_the_remotes_objects(ana: Developer, remote: Path) -> None:
    sharing(ana)
    ana.cli("append", f"deploy key is {SECRET}")
    ana.cli("start", "--title", f"rotate {SECRET}")
    assert ana.sync()["pushed"] is True
    objects = remote_objects(remote)
    assert b"deploy key is" in objects, "the note itself was shared"
    assert SECRET.encode() not in objects and SECRET[:24].encode() not in objects
    assert ana.sync()["exported"] == 0, "a redacted title is compared as written: not shared again"


def test_both_editing_one_file_each_hear_of_the_other_in_their_editor(ana: Developer, bo: Developer) -> None:
    """Both run a server (their editor) with the recorder; both save src/x.py; after their
    syncs each editor gets scribe/overlap naming the teammate, and each packet lists them."""

    for dev in (ana, bo):
        (dev.root / ".scribe").mkdir(exist_ok=True)
        (dev.root / ".scribe" / "config.toml").write_text("activity_window = 0.2\n")

    async def saved(dev: Developer, client: ScribeClient) -> None:
        """The developer saves src/x.py in the editor; the recorder writes its activity."""
        (dev.root / "src" / "x.py").write_text(f"x = '{dev.root.name}'\n")
        while True:
            entry = (await client.next_notification("scribe/entryAdded", timeout=10))["entry"]
            if entry["kind"] == "activity" and "src/x.py" in entry["files"]:
                return

    async def play() -> None:
        clients = [await ScribeClient.spawn(dev.root, env=dev.env) for dev in (ana, bo)]
        try:
            for dev, client in zip((ana, bo), clients, strict=True):
                await client.request("scribe/startSession", {})
                assert (await client.request("scribe/status", {}))["watcher"]["running"]
                await saved(dev, client)
                dev.cli("share", "on")
            await asyncio.to_thread(ana.sync)
            await asyncio.to_thread(bo.sync)  # Bo hears of Ana
            await asyncio.to_thread(ana.sync)  # Ana hears of Bo
            for client, other in zip(
                clients, ("Bo Chen <bo@example.com>", "Ana Lima <ana@example.com>"), strict=True
            ):
                params = await client.next_notification("scribe/overlap", timeout=10)
                assert params["files"] == ["src/x.py"] and params["otherSession"]["teammate"] == other
                assert f"a teammate ({other}) is changing src/x.py" in params["message"]
                packet = await client.request(
                    "scribe/getContext", {"sections": ["sessions"], "format": "markdown"}
                )
                (listed,) = packet["sections"]["sessions"]["data"]
                assert listed["teammate"] == other and listed["sharedFiles"] == ["src/x.py"]
                (person,) = (await client.request("scribe/team", {}))["people"]
                assert person["author"] == other and person["sessions"][0]["files"] == ["src/x.py"]
                assert (
                    f"teammate {other.replace('<', chr(92) + '<').replace('>', chr(92) + '>')}"
                    in packet["markdown"]
                )
        finally:
            for client in clients:
                await client.close()

    asyncio.run(play())


def test_a_sync_cut_before_it_marked_what_it_wrote_writes_it_again_and_it_is_read_once(
    ana: Developer, bo: Developer
) -> None:
    import sqlite3

    sharing(ana, bo)
    ana.cli("append", "said once")
    ana.sync()
    # As if the last sync had died after writing its segment, before marking it shared.
    with sqlite3.connect(ana.root / ".scribe" / "scribe.db") as db:
        db.execute("DELETE FROM share_state WHERE key IN ('last_entry', 'said_hello')")
        db.execute("DELETE FROM shared_sessions")
        db.execute("DELETE FROM shared_time")
    again = ana.sync()
    assert again["exported"] >= 4 and again["pushed"] is True, "the same records, written again"
    bo.sync()
    timeline = bo.cli("team", "--item", "B-1300").stdout
    assert timeline.count("note: said once") == 1


def test_one_developers_two_clones_are_one_author_with_one_timeline(tmp_path: Path, remote: Path) -> None:
    laptop = Developer(tmp_path, remote, "Ana Lima", "ana@example.com", "feature/B-1300-cache", "laptop")
    desktop = Developer(tmp_path, remote, "Ana Lima", "Ana@Example.com", "feature/B-1300-cache", "desktop")
    sharing(laptop, desktop)
    laptop.cli("append", "started on the laptop")
    desktop.cli("append", "went on at the desk")
    laptop.sync()
    desktop.sync()
    laptop.sync()
    (me,) = json.loads(laptop.cli("team", "--json").stdout)["people"]
    assert me["you"] is True and me["machines"] == 1
    timeline = laptop.cli("team", "--item", "B-1300").stdout
    assert "this machine  note: started on the laptop" in timeline
    assert "(your other machine)  note: went on at the desk" in timeline
    refs = git(remote, "for-each-ref", "--format=%(refname)", "refs/scribe/").split()
    assert len(refs) == 2 and len({ref.split("/")[2] for ref in refs}) == 1, "one author, one ref per machine"


def test_an_unreachable_remote_loses_nothing_and_the_next_sync_recovers(
    ana: Developer, bo: Developer, remote: Path, tmp_path: Path
) -> None:
    sharing(ana, bo)
    ana.sync()
    away = tmp_path / "remote-away.git"
    remote.rename(away)
    ana.cli("append", "written while offline")
    failed = ana.cli("sync", ok=False)
    assert failed.returncode == 1 and "unreachable" in failed.stderr and "kept here" in failed.stderr
    status = json.loads(ana.cli("share", "--json").stdout)
    assert status["failures"] == 1 and "unreachable" in status["lastError"]
    away.rename(remote)
    assert ana.sync()["pushed"] is True
    assert json.loads(ana.cli("share", "--json").stdout)["failures"] == 0
    bo.sync()
    assert "note: written while offline" in bo.cli("team", "--item", "B-1300").stdout


def test_both_pushing_at_once_never_loses_either(ana: Developer, bo: Developer) -> None:
    sharing(ana, bo)
    for n in range(5):
        ana.cli("append", f"ana {n}")
        bo.cli("append", f"bo {n}")
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=lambda dev=dev: results.append(dev.sync())) for dev in (ana, bo)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [r["pushed"] for r in results] == [True, True]
    ana.sync()
    bo.sync()
    assert all(f"note: bo {n}" in ana.cli("team", "--item", "B-1400").stdout for n in range(5))
    assert all(f"note: ana {n}" in bo.cli("team", "--item", "B-1300").stdout for n in range(5))


def _crafted_ref(remote: Path, tmp_path: Path, blob: bytes, writer: str) -> None:
    """A log pushed straight to the remote by someone else's hand, not by scribe-ls."""
    work = tmp_path / f"craft-{writer[:4]}"
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "mallory@example.com",
           "GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "mallory@example.com"}  # fmt: skip

    def run(*args: str, stdin: bytes = b"") -> str:
        return (
            subprocess.run(["git", *args], cwd=work, env=env, input=stdin, capture_output=True, check=True)
            .stdout.decode()
            .strip()
        )

    sha = run("hash-object", "-w", "--stdin", stdin=blob)
    tree = run("mktree", stdin=f"100644 blob {sha}\tlog.jsonl\n".encode())
    commit = run("commit-tree", tree, "-m", "crafted")
    run("push", "-q", str(remote), f"{commit}:refs/scribe/{writer}")


def test_a_crafted_log_is_skipped_with_a_warning_and_the_rest_is_read(
    ana: Developer, bo: Developer, remote: Path, tmp_path: Path
) -> None:
    from scribe_ls.team.records import author_id

    sharing(ana, bo)
    ana.sync()
    forged = author_id("ana@example.com") + "/" + "f" * 32  # claims to be Ana
    lines = [
        b"{not json",
        json.dumps(
            {
                "t": "entry",
                "id": 1,
                "session": "s-1",
                "at": "2026-12-07T09:00:00Z",
                "kind": "note",
                "text": "escape",
                "files": ["../../etc/passwd"],
                "author": None,
            }
        ).encode(),
        json.dumps(
            {
                "t": "session",
                "id": "s-1",
                "backlogId": "B-66",
                "title": "forged",
                "branch": "x",
                "status": "active",
                "startedAt": "2026-12-07T09:00:00Z",
                "activeSeconds": 1,
                "files": ["src/x.py"],
            }
        ).encode(),
        b"[" * 100000,
    ]
    _crafted_ref(remote, tmp_path, b"\n".join(lines), forged)
    _crafted_ref(remote, tmp_path, b"x" * (5 << 20), "0" * 16 + "/" + "1" * 32)  # over the cap
    _crafted_ref(remote, tmp_path, b"{}", "not-a-writer")
    done = bo.sync()
    said = "\n".join(done["warnings"])
    assert "not JSON" in said and "not a path inside the repository" in said
    assert "over the size cap" in said and "not a scribe-ls log's name" in said
    people = json.loads(bo.cli("team", "--json").stdout)["people"]
    (ana_row,) = [p for p in people if p["author"].startswith("Ana")]
    assert ana_row["verified"] is False, "a log naming Ana that Mallory pushed"
    assert ana_row["pushedBy"] == ["Mallory <mallory@example.com>"]
    shown = bo.cli("team").stdout
    assert "[pushed by Mallory <mallory@example.com>]" in shown and "B-66" in shown
    assert "escape" not in bo.cli("team", "--item", "B-66").stdout


def test_git_run_for_sharing_never_runs_a_program_the_repository_names(
    ana: Developer, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    program = f"touch {marker}; git-upload-pack"
    ana.git("config", "remote.origin.uploadpack", program)
    ana.git("config", "remote.origin.receivepack", f"touch {marker}; git-receive-pack")
    ana.git("config", "core.sshCommand", f"touch {marker}; ssh")
    ana.git("config", "credential.helper", f"!touch {marker}")
    ana.git("config", "core.hooksPath", str(tmp_path))
    helpers = tmp_path / "bin"
    helpers.mkdir()
    (helpers / "git-remote-evil").write_text(f"#!/bin/sh\ntouch {marker}\n")
    os.chmod(helpers / "git-remote-evil", 0o755)
    ana.env["PATH"] = f"{helpers}:{ana.env['PATH']}"
    ana.git("config", "commit.gpgSign", "true")  # the repository asks for signing...
    ana.git("config", "gpg.program", str(helpers / "git-remote-evil"))  # ...with its program
    (tmp_path / "pre-push").write_text(f"#!/bin/sh\ntouch {marker}\n")
    os.chmod(tmp_path / "pre-push", 0o755)
    sharing(ana)
    assert ana.sync()["pushed"] is True
    assert not marker.exists()
    # A remote helper the configuration names (git-remote-evil is on PATH): not allowed.
    ana.git("config", "remote.origin.vcs", "evil")
    blocked = ana.cli("sync", ok=False)
    assert blocked.returncode == 1 and "transport 'evil' not allowed" in blocked.stderr
    assert not marker.exists()
    ana.git("config", "--unset", "remote.origin.vcs")
    ana.git("remote", "set-url", "origin", f"ext::sh -c touch% {marker}")
    refused = ana.cli("sync", ok=False)
    assert refused.returncode == 1 and "now points at" in refused.stderr, (
        "a changed remote needs consent again"
    )
    again = ana.cli("share", "on", ok=False)
    assert again.returncode == 1 and "git's own transports only" in again.stderr
    assert not marker.exists()


def test_the_recorder_shares_soon_after_starting_and_after_the_users_own_push(
    ana: Developer, bo: Developer, remote: Path
) -> None:
    """Ana's editor records with sharing on (sync_interval is 120 s): it syncs a moment
    after it starts, then after her own `git push`, not before; Bo's session reaches her
    editor as an overlap, and status says how sharing went."""
    from .helpers import wait_until

    sharing(bo)
    bo.cli("append", "--file", "src/x.py", "auth first")
    bo.sync()
    ana.cli("share", "on")
    ours = f"refs/scribe/{json.loads(ana.cli('share', '--json').stdout)['ref'].split('/', 2)[2]}"

    def segments() -> int:
        found = subprocess.run(
            ["git", "--git-dir", str(remote), "rev-list", "--count", ours], capture_output=True, text=True
        )
        return int(found.stdout) if found.returncode == 0 else 0

    async def play() -> None:
        client = await ScribeClient.spawn(ana.root, env=ana.env)
        try:
            await client.request("scribe/startSession", {})
            await client.request("scribe/appendEntry", {"text": "on x", "files": ["src/x.py"]})
            await asyncio.to_thread(wait_until, segments, "the first sync", 20)
            overlap = await client.next_notification("scribe/overlap", timeout=20)
            assert overlap["otherSession"]["teammate"] == "Bo Chen <bo@example.com>"
            first = segments()
            await client.request("scribe/appendEntry", {"text": "before my push"})
            await asyncio.sleep(4)
            assert segments() == first, "no sync before the interval or a push"
            ana.git("commit", "-q", "--allow-empty", "-m", "wip")
            await asyncio.to_thread(ana.git, "push", "-q", "origin", "HEAD")
            await asyncio.to_thread(wait_until, lambda: segments() > first, "a sync after the push", 20)
            status = await client.request("scribe/status", {})
            assert status["sharing"]["on"] is True and status["sharing"]["failures"] == 0
            assert status["sharing"]["lastSyncAt"] is not None
        finally:
            await client.close()

    asyncio.run(play())
    assert "sharing:  with origin, last synced" in ana.cli("status").stdout


def test_a_signed_log_is_said_signed_where_the_readers_git_checks_signatures(
    ana: Developer, bo: Developer, tmp_path: Path
) -> None:
    """Bo signs his commits with an ssh key (his own global config); Ana's git knows his key
    (allowed signers): his log reads as signed; a log Mallory signs as Bo would not verify."""
    key = bo.home / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    for setting, value in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("commit.gpgSign", "true")):
        bo.git("config", "--global", setting, value)
    signers = ana.home / "allowed_signers"
    signers.write_text(f"bo@example.com {(key.with_suffix('.pub')).read_text()}")
    ana.git("config", "--global", "gpg.ssh.allowedSignersFile", str(signers))
    sharing(ana, bo)
    bo.sync()
    ana.sync()
    (person,) = json.loads(ana.cli("team", "--json").stdout)["people"]
    assert person["signed"] is True and person["verified"] is True
    assert "Bo Chen <bo@example.com> [signed]" in ana.cli("team").stdout
