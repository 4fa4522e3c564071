"""Logging: stderr and ``.scribe/scribe.log``, never stdout (which may be the protocol).

Log lines carry text from outside (config keys, paths, branch names, commit subjects); a
newline in one could forge a line of its own in a file someone later sources or greps. So
every record is one line: control characters in the message and in tracebacks are escaped.
The log file is opened without following a link (see :mod:`scribe_ls.store.layout`).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from typing import TYPE_CHECKING

from .lazylog import defer_setup, escape_controls
from .redact import redact
from .store.layout import UnsafeStore

if TYPE_CHECKING:
    from .config import Config
    from .store.layout import Layout

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"


class OneLineFormatter(logging.Formatter):
    """One line per record, controls escaped and secrets redacted (a log is on disk too)."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(redact(super().format(record)))


class NoFollowFileHandler(logging.FileHandler):
    """The log file under ``.scribe/``, never opened through a link."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        super().__init__(layout.log_path, encoding="utf-8")

    def _open(self) -> io.TextIOWrapper:
        fd = self._layout.open_fd(self._layout.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace")


def _rotating_handler(layout: Layout) -> logging.Handler:
    # logging.handlers costs a CLI verb's start-up (bench/RESULTS.md); only servers rotate.
    from logging.handlers import RotatingFileHandler

    class NoFollowRotatingHandler(RotatingFileHandler):
        _open = NoFollowFileHandler._open

        def __init__(self) -> None:
            self._layout = layout
            super().__init__(layout.log_path, maxBytes=1_000_000, backupCount=2, encoding="utf-8")

    return NoFollowRotatingHandler()


def setup_logging(
    layout: Layout | None, config: Config, *, stderr: bool = True, stderr_level: int | None = None
) -> None:
    """Log to stderr (servers) and the store's log file (when ``.scribe/`` is usable).
    ``stderr_level``: a verb at a terminal says only warnings and errors there (the file
    keeps everything at the configured level)."""
    defer_setup(None)  # done now
    level = getattr(logging, config.log_level, logging.INFO)
    formatter = OneLineFormatter(FORMAT)
    handlers: list[logging.Handler] = []
    if stderr:
        terminal = logging.StreamHandler(sys.stderr)
        if stderr_level is not None:
            terminal.setLevel(stderr_level)
        handlers.append(terminal)
    if layout is not None:
        try:
            layout.ensure()
            # A long-running server rotates; a one-shot CLI verb appends to what it rotates.
            handlers.append(_rotating_handler(layout) if stderr else NoFollowFileHandler(layout))
        except UnsafeStore:
            pass  # the store refuses the same directory and says so once, to the user
        except OSError as exc:
            problem = escape_controls(str(exc))
            print(f"scribe-ls: not logging to {layout.log_path}: {problem}", file=sys.stderr)
    if not handlers:
        # Without one, logging's last resort prints warnings on stderr: a CLI verb reports
        # its own errors, once.
        handlers.append(logging.NullHandler())
    for handler in handlers:
        handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=handlers, force=True)
    logging.getLogger("pygls").setLevel(getattr(logging, config.pygls_log_level, logging.WARNING))
    logging.getLogger("asyncio").setLevel(logging.WARNING)
    # watchfiles logs every batch ("3 changes detected") at INFO; websockets every
    # connection opened and closed (a dashboard page load is a dozen lines).
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)


class BurstLog:
    """One log line for a burst of the same event, not one per connection (a flood must not
    fill the disk): the first is logged, the rest counted and said with the next line, at
    most one every ``window`` seconds."""

    def __init__(self, logger: logging.Logger, message: str, window: float = 10.0) -> None:
        self._logger = logger
        self._message = message
        self._window = window
        self._last = float("-inf")
        self._unsaid = 0

    def event(self, detail: str = "") -> None:
        now = time.monotonic()
        if now - self._last < self._window:
            self._unsaid += 1
            return
        more = f" ({self._unsaid} more like it in the last {now - self._last:.0f} s)" if self._unsaid else ""
        self._logger.warning("%s%s%s", self._message, f": {detail}" if detail else "", more)
        self._last, self._unsaid = now, 0
