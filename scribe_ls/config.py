"""Configuration.

Config comes from ``[tool.scribe]`` in the repository's ``pyproject.toml``, then
``.scribe/config.toml`` (which wins). Keys may be written ``idle_timeout``,
``idle-timeout`` or ``idleTimeout``. A bad value never stops the service: it is
reported as a warning and the default is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from .layout import Layout, UnsafeStore

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Config(NamedTuple):
    idle_timeout: int = 1800
    # At most one `activity` entry per window (seconds); notifications are not held back.
    activity_window: float = 10.0
    max_active_sessions: int = 8
    excludes: tuple[str, ...] = ()
    log_level: str = "INFO"
    # pygls logs whole message bodies at INFO; keep it quiet unless asked.
    pygls_log_level: str = "WARNING"
    # Largest JSON-RPC message accepted on any transport; a bigger one closes the connection.
    max_message_bytes: int = 16 * 1024 * 1024
    # What was wrong with the sources (each value ignored), for the user.
    warnings: tuple[str, ...] = ()


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
    if name == "max_message_bytes":
        if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 2**30:
            raise ValueError("must be an integer from 1024 to 1073741824 (bytes)")
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


def _read_table(path: Path, layout: Layout) -> Any:
    """The parsed TOML of one config source; None if it is not there."""
    if path.parent == layout.dir:
        text = layout.read_text(path)  # never through a link planted in .scribe/
        if text is None:
            return None
    elif path.is_file():
        text = path.read_text(encoding="utf-8")
    else:
        return None
    import tomllib  # only when there is something to read: CLI start-up counts

    return tomllib.loads(text)


def load_config(root: Path) -> Config:
    values: dict[str, Any] = {}
    warnings: list[str] = []
    layout = Layout(root)
    sources = [(root / "pyproject.toml", ("tool", "scribe")), (layout.config_path, ())]
    known = set(Config._fields) - {"warnings"}
    for path, table_path in sources:
        try:
            table = _read_table(path, layout)
        except UnsafeStore as exc:
            warnings.append(f"{path.name}: {exc}; ignored")
            continue
        except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
            warnings.append(f"{path.name}: cannot read ({exc}); ignored")
            continue
        if table is None:
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
                # The key is the repository's text; the log formatter escapes its controls.
                warnings.append(f"{path.name}: {raw_key[:200]} {exc}; ignored")
    return Config(**values, warnings=tuple(warnings))
