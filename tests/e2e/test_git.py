"""git.py: facts read from git's own files, and the bounded async runner's failure modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from scribe_ls.git import commands as scribe_git
from scribe_ls.git import files as gitfiles

from .helpers import git


def test_head_sha_from_loose_and_packed_refs(repo: Path) -> None:
    expected = git(repo, "rev-parse", "HEAD").strip()
    assert gitfiles.read_head_sha(repo) == expected
    git(repo, "pack-refs", "--all")  # the loose ref file is gone, only packed-refs has it
    assert not (repo / ".git" / "refs" / "heads" / "feature" / "B-4242-x").exists()
    assert gitfiles.read_head_sha(repo) == expected
    git(repo, "checkout", "-q", "--detach")
    assert gitfiles.read_head_sha(repo) == expected
    assert gitfiles.read_branch(repo) is None


def test_unborn_branch_and_plain_directory(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "feature/B-1-new")
    assert gitfiles.read_branch(fresh) == "feature/B-1-new"
    assert gitfiles.read_head_sha(fresh) is None
    plain = tmp_path / "plain"
    plain.mkdir()
    assert gitfiles.read_branch(plain) is None and gitfiles.read_head_sha(plain) is None


async def test_commit_summary_and_failures(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subject, files = await scribe_git.commit_summary(repo, git(repo, "rev-parse", "HEAD").strip())
    assert (subject, files) == ("initial", ["README.md"])
    with pytest.raises(scribe_git.GitError, match="git show"):
        await scribe_git.commit_summary(repo, "0" * 40)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(scribe_git.GitError, match="not installed"):
        await scribe_git.run_git(repo, "status")


async def test_diff_counts_and_hunks_agree_with_git_numstat(repo: Path) -> None:
    """The one-pass diff parser against git's own numstat, on content that looks like diff
    syntax, a binary file, a mode change, a deletion and a file without a final newline."""
    (repo / "tricky.txt").write_text("".join(f"line {n}\n" for n in range(40)))
    (repo / "gone.txt").write_text("bye\n")
    (repo / "tool.sh").write_text("echo hi\n")
    (repo / "blob.bin").write_bytes(b"\x00\x01" * 50)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "fixtures")
    lines = (repo / "tricky.txt").read_text().splitlines(keepends=True)
    lines[2] = "diff --git a/x b/x\n"
    lines[20] = "@@ -1 +1 @@ not a hunk\n"
    lines[35:37] = ["+++ looks like a header\n", "--- so does this\n", "- and this\n"]
    (repo / "tricky.txt").write_text("".join(lines) + "no newline at the end")
    (repo / "gone.txt").unlink()
    (repo / "tool.sh").chmod(0o755)
    (repo / "blob.bin").write_bytes(b"\x00\x02" * 50)

    diff = await scribe_git.work_tree_diff(repo)
    expected = await scribe_git.numstat(repo)

    assert sorted(diff.files) == sorted(expected)
    assert ("blob.bin", None, None) in diff.files and ("tool.sh", 0, 0) in diff.files
    tricky = [h for h in diff.hunks if h.path == "tricky.txt"]
    assert len(tricky) == 3  # around line 3, line 21, and lines 36-40
    assert all(h.text.startswith("@@ -") for h in tricky)
    assert "+diff --git a/x b/x" in tricky[0].text and "+@@ -1 +1 @@ not a hunk" in tricky[1].text
    assert "\\ No newline at end of file" in tricky[2].text
    assert sum(h.changed for h in tricky) == sum(a + d for p, a, d in expected if p == "tricky.txt")
