"""Configuration, repository root discovery and logging set-up.

Config comes from ``[tool.scribe]`` in the repository's ``pyproject.toml``, then
``.scribe/config.toml`` (which wins). Keys may be written ``idle_timeout``,
``idle-timeout`` or ``idleTimeout``. A bad value never stops the service: it is
reported as a warning and the default is used.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

SCRIBE_DIR = ".scribe"
DB_NAME = "scribe.db"
LOG_NAME = "scribe.log"

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True, slots=True)
class Config:
    idle_timeout: int = 1800
    # At most one `activity` entry per window (seconds); notifications are not held back.
    activity_window: float = 10.0
    max_active_sessions: int = 8
    excludes: tuple[str, ...] = ()
    log_level: str = "INFO"
    # pygls logs whole message bodies at INFO; keep it quiet unless asked.
    pygls_log_level: str = "WARNING"
    warnings: tuple[str, ...] = field(default=(), compare=False)


def _normalise_key(key: str) -> str:
    out = []
    for char in key.replace("-", "_"):
        if char.isupper():
            out.append("_" + char.lower())
        else:
            out.append(char)
    return "".join(out)


def _check(name: str, value: Any) -> Any:
    """Return the checked value for ``name`` or raise ValueError saying what is wrong."""
    if name == "activity_window":
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0.1:
            raise ValueError("must be a number of seconds, at least 0.1")
        return float(value)
    if name in ("idle_timeout", "max_active_sessions"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        low = 1
        if value < low:
            raise ValueError(f"must be at least {low}")
        return value
    if name == "excludes":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of glob strings")
        return tuple(value)
    if name in ("log_level", "pygls_log_level"):
        if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()
    raise ValueError("is not a known setting")


def load_config(root: Path) -> Config:
    values: dict[str, Any] = {}
    warnings: list[str] = []
    sources = [
        (root / "pyproject.toml", ("tool", "scribe")),
        (root / SCRIBE_DIR / "config.toml", ()),
    ]
    known = {f.name for f in fields(Config)} - {"warnings"}
    for path, table_path in sources:
        if not path.is_file():
            continue
        import tomllib  # only when there is something to read: CLI start-up counts

        try:
            with path.open("rb") as handle:
                table: Any = tomllib.load(handle)
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
            warnings.append(f"{path.name}: cannot read ({exc}); ignored")
            continue
        for key in table_path:
            table = table.get(key, {}) if isinstance(table, dict) else {}
        if not isinstance(table, dict):
            continue
        for raw_key, value in table.items():
            name = _normalise_key(raw_key)
            try:
                if name not in known:
                    raise ValueError("is not a known setting")
                values[name] = _check(name, value)
            except ValueError as exc:
                warnings.append(f"{path.name}: {raw_key} {exc}; ignored")
    return Config(**values, warnings=tuple(warnings))


def find_repo_root(start: Path) -> Path:
    """The git work tree holding ``start``, found the way git finds it (a ``.git`` dir or
    file in ``start`` or a parent); a plain directory is its own root.

    Walking up costs microseconds where ``git rev-parse --show-toplevel`` costs a process
    start, and the CLI pays this on every call.
    """
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


def scribe_dir(root: Path) -> Path:
    return root / SCRIBE_DIR


def setup_logging(root: Path | None, config: Config, *, stderr: bool = True) -> None:
    """Log to stderr and ``.scribe/scribe.log``; never to stdout, which may be the protocol."""
    level = getattr(logging, config.log_level, logging.INFO)
    handlers: list[logging.Handler] = []
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")
    if stderr:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        handlers.append(handler)
    if root is not None:
        log_dir = scribe_dir(root)
        try:
            log_dir.mkdir(exist_ok=True)
            file_handler: logging.Handler
            if stderr:  # a long-running server: rotate
                from logging.handlers import RotatingFileHandler

                file_handler = RotatingFileHandler(
                    log_dir / LOG_NAME, maxBytes=1_000_000, backupCount=2, encoding="utf-8"
                )
            else:  # a one-shot CLI verb: the server rotates the same file
                file_handler = logging.FileHandler(log_dir / LOG_NAME, encoding="utf-8")
            file_handler.setFormatter(formatter)
            handlers.append(file_handler)
        except OSError as exc:
            print(f"scribe-ls: cannot open log file: {exc}", file=sys.stderr)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    logging.getLogger("pygls").setLevel(getattr(logging, config.pygls_log_level, logging.WARNING))
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    # watchfiles logs every batch ("3 changes detected") at INFO.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
