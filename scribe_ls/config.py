"""Configuration.

Config comes from the user's own file (``$XDG_CONFIG_HOME/scribe-ls/config.toml``), then
the repository's: ``[tool.scribe]`` in its ``pyproject.toml``, then ``.scribe/config.toml``
(which wins over the pyproject). Keys may be written ``idle_timeout``, ``idle-timeout`` or
``idleTimeout``. A bad value never stops the service: it is reported as a warning and the
default is used.

A repository is outside input, and so is a ``.scribe/`` that came in an archive: its
settings may narrow what scribe-ls does, never widen it. The settings that bound resources
or what is written where (:data:`NARROWED`) are taken from the repository only where they
are at most as wide as the user's (or the default): a smaller message cap, a slower poll, a
quieter log, no daemon. Where the store is, is never the repository's to say (``--store``
or ``$SCRIBE_DIR``).
"""

from __future__ import annotations

import json
import re
import zlib
from pathlib import Path
from typing import Any, NamedTuple

from .repofiles import read_regular
from .store.layout import Layout, UnsafeStore
from .userdirs import user_config_path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# A branch name as git allows it, never an option (no leading "-") nor a range.
_REF_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}")


def _quieter(repo: str, user: str) -> str:
    return max(repo, user, key=LOG_LEVELS.index)


# A repository's value against the user's: the narrower of the two. Only these settings
# are narrowed; the rest (time windows, excludes, summaries, flags) are the repository's.
NARROWED: dict[str, Any] = {
    "max_message_bytes": min,
    "poll_interval": max,
    "watch": lambda repo, user: "events" if "events" in (repo, user) else user,  # no polling forced
    "log_level": _quieter,
    "pygls_log_level": _quieter,
    "daemon": lambda repo, user: repo and user,
    "share_prompts": lambda repo, user: repo and user,  # a repository cannot send prompts out
    "share": lambda repo, user: repo and user,  # nor turn sharing on
}


class Config(NamedTuple):
    idle_timeout: int = 1800
    # A pause in activity longer than this (seconds) ends a span of active time.
    idle_gap: int = 300
    # At most one `activity` entry per window (seconds); notifications are not held back.
    activity_window: float = 10.0
    max_active_sessions: int = 8
    excludes: tuple[str, ...] = ()
    log_level: str = "INFO"
    # pygls logs whole message bodies at INFO; keep it quiet unless asked.
    pygls_log_level: str = "WARNING"
    # Largest JSON-RPC message accepted on any transport; a bigger one closes the connection.
    max_message_bytes: int = 16 * 1024 * 1024
    # `scribe-ls start` hands the root to the background recorder (scribe-ls daemon).
    daemon: bool = True
    # The legacy daemon's rule: stop the session once a push leaves the remote branch
    # up to date with a clean local HEAD.
    stop_on_push: bool = False
    # Feature flags, for rollout and for file systems without inotify:
    watch: str = "events"  # "poll": stat the tree every poll_interval (network mounts)
    poll_interval: float = 1.0
    notifications: bool = True  # false: servers push no scribe/* notifications
    parallel_context: bool = True  # false: context sections one after another
    background_summaries: bool = True  # refresh summaries after a stop and every N entries
    summary_every: int = 50
    # The branch a feature branch is compared with (its work since it left it); default:
    # its upstream when that is another branch, origin's default branch, main, master.
    base_branch: str | None = None
    # Coding-agent hooks (scribe-ls hooks install): the context an agent gets at session
    # start, in estimated tokens; whether its prompts are recorded, and how much of each.
    agent_context_tokens: int = 1500
    capture_prompts: bool = True
    prompt_chars: int = 500
    # Sharing through the git remote (scribe-ls share on): whether agents' prompts go to
    # the shared log too (they are recorded here either way, by capture_prompts).
    share_prompts: bool = False
    # Sharing on in every repository with an `origin` (only from the user's own config:
    # a repository cannot turn it on), and how often the background recorder syncs
    # while a session is active (seconds; doubled per failed try while the remote is
    # unreachable, up to 30 minutes).
    share: bool = False
    sync_interval: int = 120
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
    if name == "idle_gap":
        if isinstance(value, bool) or not isinstance(value, int) or not 10 <= value <= 86400:
            raise ValueError("must be an integer number of seconds from 10 to 86400")
        return value
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
    if name == "watch":
        if value not in ("events", "poll"):
            raise ValueError('must be "events" or "poll"')
        return value
    if name == "poll_interval":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.05 <= value <= 60:
            raise ValueError("must be a number of seconds from 0.05 to 60")
        return float(value)
    if name == "summary_every":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError("must be an integer, at least 1")
        return value
    if name == "agent_context_tokens":
        if isinstance(value, bool) or not isinstance(value, int) or not 200 <= value <= 20000:
            raise ValueError("must be an integer number of tokens from 200 to 20000")
        return value
    if name == "sync_interval":
        if isinstance(value, bool) or not isinstance(value, int) or not 30 <= value <= 86400:
            raise ValueError("must be an integer number of seconds from 30 to 86400")
        return value
    if name == "prompt_chars":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65536:
            raise ValueError("must be an integer number of characters from 0 to 65536")
        return value
    if name in (
        "daemon",
        "stop_on_push",
        "notifications",
        "parallel_context",
        "background_summaries",
        "capture_prompts",
        "share_prompts",
        "share",
    ):
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if name == "base_branch":
        if not isinstance(value, str) or not _REF_RE.fullmatch(value) or ".." in value:
            raise ValueError("must be a branch name (main, origin/develop)")
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


def _read_text(path: Path, layout: Layout) -> str | None:
    """One config source's text; None if it is not there (or, for ``pyproject.toml``,
    holds nothing for scribe: most do, and then nothing is parsed)."""
    if path.parent == layout.dir:
        return layout.read_text(path)  # never through a link planted in .scribe/
    # pyproject.toml is the repository's: never through a link, never blocking on a FIFO.
    text = read_regular(path, errors="replace")
    if text is None:
        return None
    return text if "scribe" in text or path.name != "pyproject.toml" else None


def load_config(root: Path, layout: Layout | None = None) -> Config:
    """The settings for ``root``. Parsing TOML costs a CLI verb's start-up (``tomllib``'s
    own import; bench/RESULTS.md, "The lean CLI and the reshaped core"), so the result is
    kept in ``.scribe/.config.cache.json`` under a checksum of the sources' text, and read
    from there while they say the same."""
    layout = layout or Layout(root)
    sources = [
        (user_config_path(), ()),
        (root / "pyproject.toml", ("tool", "scribe")),
        (layout.config_path, ()),
    ]
    texts: list[str | None] = []
    warnings: list[str] = []
    for path, _ in sources:
        try:
            texts.append(_read_text(path, layout))
        except UnsafeStore as exc:
            warnings.append(f"{path.name}: {exc}; ignored")
            texts.append(None)
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            warnings.append(f"{path.name}: cannot read ({exc}); ignored")
            texts.append(None)
    if not any(texts):
        return Config(warnings=tuple(warnings))
    key = [[len(t), zlib.crc32(t.encode("utf-8", "surrogateescape"))] if t else None for t in texts]
    if not warnings and (cached := _cached(layout, key, texts[0])) is not None:
        return cached
    config = _parse(
        [(path, table, text) for (path, table), text in zip(sources, texts, strict=True)], warnings
    )
    if not warnings:
        _keep(layout, key, config)
    return config


def _usable(layout: Layout) -> bool:
    """``.scribe/`` exists and is ours (a repository cannot ship a cache of its own)."""
    try:
        layout.ensure(create=False)
    except OSError:  # missing, or UnsafeStore: the store says why, once
        return False
    return True


def _cached(layout: Layout, key: list[list[int] | None], user_text: str | None) -> Config | None:
    if not _usable(layout):
        return None
    try:
        data = json.loads(layout.read_text(layout.config_cache_path) or "null")
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        values = dict(data["values"])
        warnings = tuple(str(w) for w in values.pop("warnings"))
        # Checked again: what the cache holds is held to the same rules as the sources, and
        # narrowed again by the user's settings (the cache is in .scribe/, which can come
        # in an archive: it may say anything; narrowing what the user allows changes
        # nothing in a cache that scribe-ls wrote).
        checked: dict[str, tuple[Any, str | None]] = {
            name: (_check(name, value), None) for name, value in values.items()
        }
        user = _user_values(user_text) if user_text else {}
        return Config(**_narrow(checked, user, []), warnings=warnings)
    except (OSError, ValueError, TypeError, KeyError):
        return None  # no cache, a damaged one, or one from another version: parse


def _keep(layout: Layout, key: list[list[int] | None], config: Config) -> None:
    if not _usable(layout):
        return  # the first run: .scribe/ is made (and checked) by the store
    try:
        layout.write_atomic(layout.config_cache_path, json.dumps({"key": key, "values": config._asdict()}))
    except OSError:
        pass  # only a cache: the next run parses again


def _parse(sources: list[tuple[Path, tuple[str, ...], str | None]], warnings: list[str]) -> Config:
    """The user's source first, then the repository's (later wins), narrowed."""
    (user_path, _, user_text), *repo_sources = sources
    user = _table_values(user_path, (), user_text, warnings) if user_text else {}
    repo: dict[str, Any] = {}
    for path, table_path, text in repo_sources:
        if text is not None:
            found = _table_values(path, table_path, text, warnings)
            repo |= {name: (value, path.name) for name, value in found.items()}
    return Config(**_narrow(repo, user, warnings), warnings=tuple(warnings))


def _user_values(text: str) -> dict[str, Any]:
    return _table_values(user_config_path(), (), text, [])


def _narrow(
    repo: dict[str, tuple[Any, str | None]], user: dict[str, Any], warnings: list[str]
) -> dict[str, Any]:
    """``user``'s values, then ``repo``'s ((value, the file it came from)) where they are not
    wider than the user's (:data:`NARROWED`); what was narrowed is said in ``warnings``."""
    values = dict(user)
    defaults = Config()
    for name, (value, source) in repo.items():
        if name in NARROWED:
            allowed = user.get(name, getattr(defaults, name))
            narrowed = NARROWED[name](value, allowed)
            if narrowed != value and source is not None:
                warnings.append(
                    f"{source}: {name} = {value!r} is wider than your own configuration allows "
                    f"({allowed!r}, {user_config_path()}); a repository may only narrow it, so "
                    f"{narrowed!r} is used"
                )
            value = narrowed
        values[name] = value
    return values


def _table_values(path: Path, table_path: tuple[str, ...], text: str, warnings: list[str]) -> dict[str, Any]:
    import tomllib  # only when there is something to parse: CLI start-up counts

    values: dict[str, Any] = {}
    known = set(Config._fields) - {"warnings"}
    try:
        table: Any = tomllib.loads(text)
    except ValueError as exc:  # TOMLDecodeError is a ValueError
        warnings.append(f"{path.name}: cannot read ({exc}); ignored")
        return values
    for key in table_path:
        table = table.get(key, {}) if isinstance(table, dict) else {}
    if not isinstance(table, dict):
        return values
    for raw_key, value in table.items():
        name = _normalise_key(raw_key)
        try:
            if name == "store":
                raise ValueError(
                    "is not read from configuration files: the store is .scribe/ unless you choose "
                    "another with --store or $SCRIBE_DIR"
                )
            if name not in known:
                raise ValueError("is not a known setting")
            values[name] = _check(name, value)
        except ValueError as exc:
            # The key is the repository's text; the log formatter escapes its controls.
            warnings.append(f"{path.name}: {raw_key[:200]} {exc}; ignored")
    return values
