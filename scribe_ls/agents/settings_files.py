"""An agent's JSON settings file, read and merged safely: what ``mcp install`` and
``hooks install`` write into.

The file may be the repository's (untrusted): neither it nor its folder may be a symbolic
link, a file that is not a JSON object is refused rather than replaced (the user's other
settings stay theirs), and the new file replaces the old one atomically (a temp file of a
random name, ``O_EXCL|O_NOFOLLOW``, then ``os.replace``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def scribe_command() -> list[str]:
    """``scribe-ls`` as installed beside this interpreter, by its absolute path (what an
    agent runs need not have a virtual environment's bin on its PATH; ``daemon install``
    writes the same); else this interpreter with ``-m scribe_ls``."""
    beside = Path(sys.executable).parent / "scribe-ls"
    if beside.is_file():
        return [str(beside)]
    return [sys.executable, "-m", "scribe_ls"]


class InstallError(Exception):
    """The file cannot be merged safely; the message says why."""


def read_object(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` ({} when there is no file)."""
    for place in (path.parent, path):
        if place.is_symlink():
            raise InstallError(f"{place} is a symbolic link; not writing through it")
    if not path.exists():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstallError(f"{path} is not valid JSON ({exc}); fix it or add the snippet by hand") from None
    if not isinstance(loaded, dict):
        raise InstallError(f"{path} does not hold a JSON object; add the snippet by hand")
    return loaded


def write_object(path: Path, value: dict[str, Any]) -> None:
    """Replace ``path`` with ``value`` atomically, never through a link."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    if folder.is_symlink():  # made a link between the check and now
        raise InstallError(f"{folder} is a symbolic link; not writing through it")
    temp = folder / f".{path.name}.{os.urandom(4).hex()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
        os.replace(temp, path)  # replaces a link at the path itself, never follows it
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
