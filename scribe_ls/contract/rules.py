"""The domain's rules for every argument, checked by the core itself.

The Python API, the JSON-RPC methods and the CLI all end up here, so a value is held to
the same rules and gets the same message whichever way it came in. Each check takes the
value and the name of the field (the Python name: the wire layer renames ``backlog_id`` to
``backlogId`` in the message) and returns the value to use, or raises
:class:`~scribe_ls.errors.InvalidParams` naming the field and what is wrong.

Strings must be text SQLite and a file can hold: no NUL, no lone surrogates (JSON can
carry ``"\\ud800"``; UTF-8 cannot).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import InvalidParams

MAX_TEXT = 65536
MAX_LABEL = 200
MAX_TAGS = 32
MAX_TAG = 64
MAX_FILES = 1000
MAX_PATH = 4096
MAX_LIMIT = 1000
MAX_REQUEST_ID = 128

SESSION_STATUSES = ("active", "paused", "completed")
ENTRY_KINDS = ("note", "decision", "idea", "todo", "activity", "commit", "system", "intent", "agent")
# What a person writes; the others are the recorder's and the session lifecycle's, and a
# coding agent's through its hooks (``intent``: a prompt; ``agent``: what the agent did).
USER_KINDS = ("note", "decision", "idea", "todo")

# ASCII digits only: \d would take any Unicode digit ("B-١٢٣").
BACKLOG_ID_RE = re.compile(r"^B-[0-9]{1,9}$")


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _unencodable(value: str) -> int | None:
    """Where a string stops being encodable as UTF-8 (a lone surrogate), if anywhere."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _text_problem(value: str, max_len: int) -> str | None:
    if len(value) > max_len:
        return f"too long ({len(value)} characters, at most {max_len})"
    if "\x00" in value:
        return "must not contain NUL characters"
    if (position := _unencodable(value)) is not None:
        return f"must be valid Unicode text (a lone surrogate at position {position})"
    return None


def string(
    value: Any,
    field: str,
    *,
    max_len: int = MAX_LABEL,
    required: bool = False,
    choices: Sequence[str] = (),
    pattern: re.Pattern[str] | None = None,
    hint: str = "",
) -> str | None:
    """A short string (title, type, tag, id); None passes unless ``required``."""
    if value is None:
        if required:
            raise InvalidParams(field, "is required")
        return None
    if not isinstance(value, str):
        raise InvalidParams(field, f"expected a string, got {json_type(value)}")
    if choices and value not in choices:
        raise InvalidParams(field, f"must be one of {', '.join(choices)}; got {value[:80]!r}")
    if not value.strip():
        raise InvalidParams(field, "must not be empty")
    if (problem := _text_problem(value, max_len)) is not None:
        raise InvalidParams(field, problem)
    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidParams(field, f"{value[:80]!r} does not match {hint or pattern.pattern}")
    return value


def required_string(value: Any, field: str, *, max_len: int = MAX_LABEL) -> str:
    """:func:`string` with ``required``: never None."""
    checked = string(value, field, max_len=max_len, required=True)
    assert checked is not None  # string() raised instead
    return checked


def text(value: Any, field: str = "text") -> str:
    """An entry's text: required, up to MAX_TEXT characters; outer blank lines dropped."""
    return required_string(value, field, max_len=MAX_TEXT).strip("\n")


def backlog_id(value: Any, field: str = "backlog_id") -> str | None:
    return string(value, field, max_len=16, pattern=BACKLOG_ID_RE, hint="B-<digits>")


MAX_SESSION_ID = 128


def session_id(value: Any, field: str = "session_id") -> str | None:
    # Any string is looked up: an id that names no session is -32010, not -32602, so a
    # client can tell "wrong type" from "gone".
    return string(value, field, max_len=MAX_SESSION_ID)


def required_session_id(value: Any, field: str = "session_id") -> str:
    return required_string(value, field, max_len=MAX_SESSION_ID)


def kind(value: Any, field: str = "kind", *, default: str = "note") -> str:
    return string(value, field, choices=ENTRY_KINDS) or default


AUTHOR_RE = re.compile(r"[\w.@ +/:()-]{1,64}")


def author(value: Any, field: str = "author") -> str | None:
    """Who wrote an entry, when an agent did: a name such as ``claude-code`` (letters,
    digits and ``._-@+/:() `` , up to 64 characters)."""
    return string(
        value, field, max_len=64, pattern=AUTHOR_RE, hint="a name of letters, digits, ._-@+/:() and spaces"
    )


def request_id(value: Any, field: str = "request_id") -> str | None:
    return string(value, field, max_len=MAX_REQUEST_ID)


def integer(value: Any, field: str, *, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    # bool is an int in Python, but true is not a number on the wire.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParams(field, f"expected an integer, got {json_type(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidParams(field, f"expected an integer, got {value}")
        value = int(value)
    if not low <= value <= high:
        raise InvalidParams(field, f"must be between {low} and {high}, got {value}")
    return value


def string_list(
    value: Any,
    field: str,
    *,
    max_items: int,
    max_len: int,
    choices: Sequence[str] = (),
    one_line: bool = False,
) -> tuple[str, ...]:
    """A list of strings (tags, files, kinds); duplicates dropped, order kept."""
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise InvalidParams(field, f"expected an array of strings, got {json_type(value)}")
    if len(value) > max_items:
        raise InvalidParams(field, f"too many items ({len(value)}, at most {max_items})")
    items: list[str] = []
    for index, item in enumerate(value):
        where = f"{field}[{index}]"
        if not isinstance(item, str):
            raise InvalidParams(where, f"expected a string, got {json_type(item)}")
        item = item.strip()
        if not item:
            raise InvalidParams(where, "must not be empty")
        if (problem := _text_problem(item, max_len)) is not None:
            raise InvalidParams(where, problem)
        if one_line and ("\n" in item or "\r" in item):
            raise InvalidParams(where, "must not contain line breaks")
        if choices and item not in choices:
            raise InvalidParams(where, f"must be one of {', '.join(choices)}; got {item[:80]!r}")
        if item not in items:
            items.append(item)
    return tuple(items)


def tags(value: Any, field: str = "tags") -> tuple[str, ...]:
    return string_list(value, field, max_items=MAX_TAGS, max_len=MAX_TAG)


def files(value: Any, field: str = "files") -> tuple[str, ...]:
    return string_list(value, field, max_items=MAX_FILES, max_len=MAX_PATH, one_line=True)


def kinds(value: Any, field: str = "kinds") -> tuple[str, ...]:
    return string_list(value, field, max_items=len(ENTRY_KINDS), max_len=16, choices=ENTRY_KINDS)
