"""git.py: facts read from git's own files, and the bounded async runner's failure modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe_ls import git as scribe_git

from .conftest import git


def test_head_sha_from_loose_and_packed_refs(repo: Path) -> None:
    expected = git(repo, "rev-parse", "HEAD").strip()
    assert scribe_git.read_head_sha(repo) == expected
    git(repo, "pack-refs", "--all")  # the loose ref file is gone, only packed-refs has it
    assert not (repo / ".git" / "refs" / "heads" / "feature" / "B-4242-x").exists()
    assert scribe_git.read_head_sha(repo) == expected
    git(repo, "checkout", "-q", "--detach")
    assert scribe_git.read_head_sha(repo) == expected
    assert scribe_git.read_branch(repo) is None


def test_unborn_branch_and_plain_directory(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "feature/B-1-new")
    assert scribe_git.read_branch(fresh) == "feature/B-1-new"
    assert scribe_git.read_head_sha(fresh) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    assert scribe_git.read_branch(plain) is None and scribe_git.read_head_sha(plain) is None
    assert scribe_git.exclude_scribe_dir(plain) is False


async def test_commit_summary_and_failures(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subject, files = await scribe_git.commit_summary(repo, git(repo, "rev-parse", "HEAD").strip())
    assert (subject, files) == ("initial", ["README.md"])
    with pytest.raises(scribe_git.GitError, match="git show"):
        await scribe_git.commit_summary(repo, "0" * 40)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(scribe_git.GitError, match="not installed"):
        await scribe_git.run_git(repo, "status")
