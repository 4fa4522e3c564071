"""The unit layer: pure parts, table-driven, in seconds. No git, no subprocess, no server:
a test here that starts a process fails instead (``python -m pytest tests/unit``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
from typing import Any, NoReturn

import pytest

WHY = "a unit test started a process; tests that need one live in tests/e2e"


class _NoPopen(subprocess.Popen):  # type: ignore[type-arg]  # a class, so Popen[bytes] still reads
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError(WHY)


def _refused(*args: Any, **kwargs: Any) -> NoReturn:
    raise AssertionError(WHY)


@pytest.fixture(autouse=True)
def _no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess, "Popen", _NoPopen)
    for name in ("fork", "posix_spawn", "posix_spawnp", "system"):
        monkeypatch.setattr(os, name, _refused)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", _refused)
    monkeypatch.setattr(asyncio, "create_subprocess_shell", _refused)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.unit)
