"""Stores and worklogs out of step: an older store put back under newer worklogs, an
emptied store, a worklog edited by hand. New entries always reach the worklog, nothing a
worklog held is overwritten without being kept, and ``validate --fix`` fixes what it
reports (the real CLI on the real files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scribe_ls.rpc.client import ScribeClient

from .helpers import run_cli

pytestmark = pytest.mark.timeout(60)


def worklog(repo: Path, key: str = "B-4242") -> Path:
    return repo / ".scribe" / "worklogs" / f"{key}.md"


def kept_files(repo: Path, key: str = "B-4242") -> list[Path]:
    return sorted((repo / ".scribe" / "worklogs").glob(f"{key}.md.kept-*"))


def back_up_store(repo: Path, to: Path) -> None:
    run_cli(repo, "validate")  # a checkpoint: the WAL is in the main file
    to.mkdir()
    for name in ("scribe.db", "scribe.db-wal", "scribe.db-shm"):
        if (repo / ".scribe" / name).exists():
            shutil.copy2(repo / ".scribe" / name, to / name)


def restore_store(repo: Path, backup: Path) -> None:
    for name in ("scribe.db", "scribe.db-wal", "scribe.db-shm"):
        (repo / ".scribe" / name).unlink(missing_ok=True)
        if (backup / name).exists():
            shutil.copy2(backup / name, repo / ".scribe" / name)


def test_an_older_store_put_back_under_newer_worklogs(repo: Path, tmp_path: Path) -> None:
    assert run_cli(repo, "start").returncode == 0
    assert run_cli(repo, "append", "before the backup").returncode == 0
    back_up_store(repo, tmp_path / "backup")
    for n in range(3):
        assert run_cli(repo, "append", f"after the backup {n}").returncode == 0
    restore_store(repo, tmp_path / "backup")
    done = run_cli(repo, "append", "acknowledged after the restore")
    assert done.returncode == 0
    # The new entry is in the worklog (before: never, until ids caught up)...
    text = worklog(repo).read_text()
    assert "acknowledged after the restore" in text
    # ...and what the old worklog held that the store lacks was kept, and said.
    kept = kept_files(repo)
    assert len(kept) == 1 and "after the backup 2" in kept[0].read_text()
    assert "held text the store does not have (3 entries, from " in done.stderr
    assert str(kept[0]) in done.stderr
    assert run_cli(repo, "validate").returncode == 0


def test_an_emptied_store_keeps_the_worklog_it_cannot_show(repo: Path) -> None:
    assert run_cli(repo, "start").returncode == 0
    assert run_cli(repo, "append", "the only record of this").returncode == 0
    for name in ("scribe.db-wal", "scribe.db-shm"):
        (repo / ".scribe" / name).unlink(missing_ok=True)
    (repo / ".scribe" / "scribe.db").write_bytes(b"")  # 0 bytes
    # Found before anything is written: the worklog shows what the store does not have.
    checked = run_cli(repo, "validate")
    assert checked.returncode == 1
    assert "B-4242.md: shows 3 entries, from " in checked.stdout and "the store was emptied" in checked.stdout
    assert run_cli(repo, "start").returncode == 0
    assert run_cli(repo, "append", "after emptying").returncode == 0
    assert "after emptying" in worklog(repo).read_text()
    kept = kept_files(repo)
    assert len(kept) == 1 and "the only record of this" in kept[0].read_text()


async def test_a_server_started_on_an_older_store_says_so_and_renders(repo: Path, tmp_path: Path) -> None:
    assert run_cli(repo, "start").returncode == 0
    back_up_store(repo, tmp_path / "backup")
    assert run_cli(repo, "append", "newer than the backup").returncode == 0
    restore_store(repo, tmp_path / "backup")
    client = await ScribeClient.spawn(repo)
    try:
        message = await client.next_notification("window/showMessage", timeout=10)
        assert "held 1 entries, from " in message["message"]
        assert "that the store does not have (the store is older than it" in message["message"]
        await client.request("scribe/appendEntry", {"text": "from the server"})
        status = await client.request("scribe/status", {})
        assert status["root"]
    finally:
        await client.close()
    assert "from the server" in worklog(repo).read_text()
    assert "newer than the backup" in kept_files(repo)[0].read_text()


def test_a_worklog_edited_by_hand_is_kept_before_it_is_rewritten(repo: Path) -> None:
    assert run_cli(repo, "start").returncode == 0
    path = worklog(repo)
    path.write_text(path.read_text() + "\nmy own line, typed by hand\n")
    done = run_cli(repo, "append", "a note after the edit")
    assert done.returncode == 0
    kept = kept_files(repo)
    assert len(kept) == 1 and "my own line, typed by hand" in kept[0].read_text()
    assert "a note after the edit" in path.read_text()
    assert "(edited by hand (no entry is missing from the store))" in done.stderr


def test_validate_fix_fixes_what_it_reports(repo: Path, tmp_path: Path) -> None:
    assert run_cli(repo, "start").returncode == 0
    back_up_store(repo, tmp_path / "backup")
    assert run_cli(repo, "append", "only in the worklog").returncode == 0
    restore_store(repo, tmp_path / "backup")
    assert run_cli(repo, "validate").returncode == 1  # the worklog differs from the store
    fixed = run_cli(repo, "validate", "--fix")
    assert fixed.returncode == 0 and "fixed: " in fixed.stdout and "ok: " in fixed.stdout
    assert run_cli(repo, "validate").returncode == 0  # and it stays fixed
    assert "only in the worklog" in kept_files(repo)[0].read_text()
