"""Fixtures of the end-to-end layer: a real git repository in a temp dir, and a pytest-lsp
client talking to the real server process over stdio. Every test here is marked ``e2e``
(``python -m pytest -m e2e``); the helpers are in ``helpers.py``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_lsp
from pytest_lsp import ClientServerConfig, LanguageClient

from .helpers import BRANCH, SERVER, Pushes, init_params, make_client, make_git_repo


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_git_repo(tmp_path / "repo")


@pytest.fixture
def repo_factory(tmp_path: Path) -> Callable[..., Path]:
    def factory(name: str = "other", branch: str = BRANCH) -> Path:
        return make_git_repo(tmp_path / name, branch)

    return factory


@pytest.fixture
def user_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """Write the user's own scribe-ls config (``$XDG_CONFIG_HOME/scribe-ls/config.toml``,
    in the test's temp dir; servers and verbs started later inherit it): the settings a
    repository may only narrow (watch, poll_interval, message cap, log levels, daemon)."""
    home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))

    def write(text: str) -> Path:
        path = home / "scribe-ls" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    return write


@pytest.fixture
def repo_config() -> str:
    """Text for the repository's .scribe/config.toml, written before the server starts."""
    return ""


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER, client_factory=make_client))
async def client(lsp_client: LanguageClient, repo: Path, repo_config: str):
    if repo_config:
        (repo / ".scribe").mkdir(exist_ok=True)
        (repo / ".scribe" / "config.toml").write_text(repo_config)
    lsp_client.pushes = Pushes(lsp_client)  # type: ignore[attr-defined]
    lsp_client.initialize_result = await lsp_client.initialize_session(init_params(repo))  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()
