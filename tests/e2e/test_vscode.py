"""The VS Code extension's own suite (editors/vscode, node's test runner), run from pytest so
the one test command covers it: build the bundle, type-check, and test it against the real
server started with this interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"

pytestmark = pytest.mark.timeout(300)


def test_vscode_extension_builds_and_passes_its_tests() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is not installed: the VS Code extension's tests need Node.js 20+ and npm"
    assert (EXTENSION / "node_modules").is_dir(), (
        "editors/vscode has no node_modules: run `npm ci --prefix editors/vscode` first "
        "(the README's test command does)"
    )
    result = subprocess.run(
        [npm, "test"],
        cwd=EXTENSION,
        env={**os.environ, "SCRIBE_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    assert "# fail 0" in output and "# pass " in output, output[-4000:]
    passed = int(output.split("# pass ", 1)[1].split()[0])
    assert passed >= 16, f"only {passed} extension tests ran:\n{output[-4000:]}"


def test_npm_run_package_builds_the_vsix_from_a_clean_checkout(tmp_path: Path) -> None:
    """What the README tells a user: `npm ci && npm run package` in a fresh checkout of
    editors/vscode (its tracked files only; the installed node_modules are linked in)."""
    import zipfile

    npm = shutil.which("npm")
    assert npm and (EXTENSION / "node_modules").is_dir(), "run `npm ci --prefix editors/vscode` first"
    tracked = (
        subprocess.run(["git", "ls-files", "-z", "."], cwd=EXTENSION, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    checkout = tmp_path / "vscode"
    for name in filter(None, tracked):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(EXTENSION / name, checkout / name)
    (checkout / "node_modules").symlink_to(EXTENSION / "node_modules")
    result = subprocess.run(
        [npm, "run", "package"], cwd=checkout, capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL,  # vsce must not need to ask anything
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    (vsix,) = checkout.glob("scribe-ls-*.vsix")
    names = set(zipfile.ZipFile(vsix).namelist())
    assert {"extension/package.json", "extension/dist/extension.js", "extension/LICENSE.txt"} <= names
    assert not any(n.startswith(("extension/src/", "extension/node_modules/")) for n in names)
