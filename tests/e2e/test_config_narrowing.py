"""A repository's settings narrow, never widen, what the user allows (fast, in-process)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scribe_ls.config import load_config

from .helpers import make_git_repo

WIDE = """[tool.scribe]
max_message_bytes = 1073741824
watch = "poll"
poll_interval = 0.05
log_level = "DEBUG"
pygls_log_level = "DEBUG"
daemon = true
idle_timeout = 60
"""


def test_a_repository_cannot_widen_the_bounded_settings(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    (repo / "pyproject.toml").write_text(WIDE)
    config = load_config(repo)
    assert config.max_message_bytes == 16 * 1024 * 1024
    assert (config.watch, config.poll_interval) == ("events", 1.0)
    assert (config.log_level, config.pygls_log_level) == ("INFO", "WARNING")
    assert config.idle_timeout == 60  # not a bounded setting: the repository's to choose
    narrowed = [w for w in config.warnings if "wider than your own configuration allows" in w]
    assert len(narrowed) == 5 and all(w.startswith("pyproject.toml: ") for w in narrowed)


def test_a_repository_may_narrow_and_the_user_may_widen(
    tmp_path: Path, user_config: Callable[[str], Path]
) -> None:
    repo = make_git_repo(tmp_path / "repo")
    (repo / ".scribe").mkdir()
    (repo / ".scribe" / "config.toml").write_text(
        'max_message_bytes = 65536\npoll_interval = 5\nlog_level = "ERROR"\ndaemon = false\n'
    )
    config = load_config(repo)
    assert (config.max_message_bytes, config.poll_interval, config.log_level, config.daemon) == (
        65536, 5.0, "ERROR", False,
    )  # fmt: skip
    assert config.warnings == ()
    user_config('watch = "poll"\npoll_interval = 0.1\nmax_message_bytes = 1073741824\nlog_level = "DEBUG"\n')
    (repo / ".scribe" / "config.toml").write_text("")
    (repo / "pyproject.toml").write_text(WIDE)
    config = load_config(repo)
    assert (config.watch, config.poll_interval, config.max_message_bytes) == ("poll", 0.1, 2**30)
    assert config.log_level == "DEBUG" and config.pygls_log_level == "WARNING"


def test_a_forged_config_cache_cannot_widen_either(tmp_path: Path) -> None:
    """.scribe/.config.cache.json can come in an archive too: what it says is narrowed."""
    import json

    repo = make_git_repo(tmp_path / "repo")
    (repo / "pyproject.toml").write_text("[tool.scribe]\nidle_timeout = 60\n")
    load_config(repo)  # no .scribe/ yet: nothing cached
    (repo / ".scribe" / "worklogs").mkdir(parents=True)
    (repo / ".scribe" / "summaries").mkdir()
    load_config(repo)
    cache = repo / ".scribe" / ".config.cache.json"
    data = json.loads(cache.read_text())
    data["values"] |= {"max_message_bytes": 2**30, "watch": "poll", "poll_interval": 0.05}
    cache.write_text(json.dumps(data))
    config = load_config(repo)
    assert (config.max_message_bytes, config.watch, config.poll_interval) == (16 * 1024 * 1024, "events", 1.0)
    assert config.idle_timeout == 60


@pytest.mark.parametrize("where", ["pyproject.toml", ".scribe/config.toml"])
def test_store_is_never_read_from_a_configuration_file(tmp_path: Path, where: str) -> None:
    repo = make_git_repo(tmp_path / "repo")
    (repo / ".scribe").mkdir()
    text = 'store = "../elsewhere"\n'
    (repo / where).write_text("[tool.scribe]\n" + text if where == "pyproject.toml" else text)
    assert any("store is not read from configuration files" in w for w in load_config(repo).warnings)


@pytest.mark.parametrize("value", ["--upload-pack=touch x", "main..HEAD", "a b", "", "-main", 5])
def test_a_base_branch_that_is_not_a_branch_name_is_refused(tmp_path: Path, value: object) -> None:
    import json

    repo = make_git_repo(tmp_path / "repo")
    (repo / ".scribe").mkdir()
    (repo / ".scribe" / "config.toml").write_text(f"base_branch = {json.dumps(value)}\n")
    config = load_config(repo)
    assert config.base_branch is None
    assert any("base_branch must be a branch name" in w for w in config.warnings)
