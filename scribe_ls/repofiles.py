"""Reading a small file the repository controls (``.git/HEAD``, a ref, ``.gitignore``,
``pyproject.toml``): it may be a FIFO, a device, a socket, a link out of the tree, huge,
or not UTF-8. A plain ``read_text`` would block forever on a FIFO (and with it the event
loop or ``scribe-ls start``), follow the link, or raise on the bytes.

:func:`read_regular` opens without blocking and without following a final link, reads
only a regular file, at most ``limit`` bytes, and decodes as the caller says: names shown
to people with ``backslashreplace`` (``caf\\xe9``), paths with ``surrogateescape``.
:func:`printable_name` is how a file name is recorded and sent.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC

SMALL = 1 << 20  # HEAD, a ref, a pointer, an ignore file, a config file


def read_regular_bytes(path: Path, *, limit: int = SMALL) -> bytes | None:
    """The first ``limit`` bytes of ``path``, or None when it is missing, a link, not a
    regular file or unreadable."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_regular(path: Path, *, limit: int = SMALL, errors: str = "backslashreplace") -> str | None:
    """:func:`read_regular_bytes` decoded as UTF-8 with ``errors`` (never raises on bytes)."""
    data = read_regular_bytes(path, limit=limit)
    return None if data is None else data.decode("utf-8", errors)


# Line breaks and other controls in a file name: kept, but as visible escapes, so that the
# name fits on a worklog line and in a one-line field (``c\\nd.py``).
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable_name(name: str) -> str:
    """A file name as it is recorded: bytes that are not UTF-8 (``os`` hands them over as
    surrogates) become ``\\xff`` escapes and control characters ``\\n``, ``\\x01``... so
    every name can be stored, sent and written on one line."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if _CONTROL_RE.search(name) is None:
        return name
    return _CONTROL_RE.sub(lambda match: repr(match.group())[1:-1], name)
