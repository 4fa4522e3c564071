"""The README's first commands are the contract with a new user and with CI."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    commands = [line.strip() for line in readme[:12] if line.startswith("    python -m pip install")]
    assert len(commands) == 2, "the README starts with two set-up commands"
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci


def test_the_wheel_holds_every_module(tmp_path: Path) -> None:
    """``pip install .`` (the README's first command) installs the wheel, not the tree: a
    subpackage missing from it breaks the installed ``scribe-ls`` on a fresh machine."""
    import shutil
    import subprocess
    import sys
    import zipfile

    # A copy of what the build reads: a build/ left in the checkout would hide the fault.
    source = tmp_path / "source"
    shutil.copytree(ROOT / "scribe_ls", source / "scribe_ls", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path, source],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("scribe_ls-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {name for name in names if name.endswith(".py")}
    sources = {str(p.relative_to(ROOT)) for p in (ROOT / "scribe_ls").rglob("*.py")}
    assert sources - shipped == set()
    # The dashboard's page: every file it serves is in the wheel.
    from scribe_ls.dashboard.site import ASSETS

    assert {f"scribe_ls/dashboard/static/{name}" for name, _ in ASSETS.values()} <= names
