"""Sharing's tests' developers: a bare repository as the remote, clones as developers
(each with their own $HOME, XDG dirs and git identity); used by test_team.py,
test_team_safety.py and the dashboard's Team panel test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
