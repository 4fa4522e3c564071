"""Loggers that cost nothing until something is logged, and one-line escaping.

Importing ``logging`` (with ``traceback`` and friends) costs a CLI verb's start-up
(bench/RESULTS.md, "The lean CLI and the reshaped core"), and most verbs log nothing.
Modules on the CLI's path take their logger from :func:`get_logger`; the first record
imports ``logging`` and runs the setup the CLI deferred with :func:`defer_setup` (the log
file under ``.scribe/``). Servers set logging up at start, so
for them this is a plain ``logging.getLogger``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# C0 controls (newline included) and DEL, C1 controls, and the Unicode line separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_deferred_setup: Callable[[], None] | None = None


def escape_controls(text: str) -> str:
    """``a\\nb`` -> ``a\\\\nb``: text from outside can never start a new line of a log or a
    terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def defer_setup(setup: Callable[[], None] | None) -> None:
    """Run ``setup`` before the first record is logged (None: forget a deferred setup)."""
    global _deferred_setup
    _deferred_setup = setup


class LazyLogger:
    """Stands for ``logging.getLogger(name)``; becomes it on first use."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        import logging

        global _deferred_setup
        if _deferred_setup is not None:
            setup, _deferred_setup = _deferred_setup, None
            setup()
        return getattr(logging.getLogger(self.name), attribute)


def get_logger(name: str) -> Any:
    return LazyLogger(name)
