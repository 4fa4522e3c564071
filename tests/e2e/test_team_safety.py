"""Sharing through the git remote, where it meets hostile input: secrets, crafted logs,
a forged author, a repository whose git configuration names programs, signatures."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .teams import SECRET, Developer, ana, bo, remote, remote_objects, sharing

__all__ = ["ana", "bo", "remote"]  # fixtures


def test_a_secret_in_a_note_never_reaches_the_remotes_objects(ana: Developer, remote: Path) -> None:
    sharing(ana)
    ana.cli("append", f"deploy key is {SECRET}")
    ana.cli("start", "--title", f"rotate {SECRET}")
    assert ana.sync()["pushed"] is True
    objects = remote_objects(remote)
    assert b"deploy key is" in objects, "the note itself was shared"
    assert SECRET.encode() not in objects and SECRET[:24].encode() not in objects
    assert ana.sync()["exported"] == 0, "a redacted title is compared as written: not shared again"


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
