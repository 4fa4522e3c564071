"""Every field's rule, as the declarations state it: a table of values and what each gives."""

from __future__ import annotations

from typing import Any

import pytest

from scribe_ls.contract import operations as ops
from scribe_ls.contract import rules
from scribe_ls.errors import InvalidParams

OK = object()  # the value itself comes back


class Err(str):
    """The field is refused (-32602), with these words in the message."""


# (operation, field, value, expected value, or the error's words)
CASES: list[tuple[ops.Operation, str, Any, Any]] = [
    (ops.APPEND_ENTRY, "text", "a note", OK),
    (ops.APPEND_ENTRY, "text", "\n\nkept inside\n\n", "kept inside"),
    (ops.APPEND_ENTRY, "text", None, Err("is required")),
    (ops.APPEND_ENTRY, "text", "", Err("must not be empty")),
    (ops.APPEND_ENTRY, "text", "x" * rules.MAX_TEXT, OK),
    (ops.APPEND_ENTRY, "text", "x" * (rules.MAX_TEXT + 1), Err("too long (65537 characters, at most 65536)")),
    (ops.APPEND_ENTRY, "text", "a\x00b", Err("must not contain NUL characters")),
    (ops.APPEND_ENTRY, "text", "a\ud800b", Err("a lone surrogate at position 1")),
    (ops.APPEND_ENTRY, "text", 5, Err("expected a string, got number")),
    (ops.APPEND_ENTRY, "kind", None, "note"),
    (ops.APPEND_ENTRY, "kind", "decision", OK),
    (ops.APPEND_ENTRY, "kind", "rant", Err("must be one of note, decision")),
    (ops.APPEND_ENTRY, "files", ["a.py", "a.py", " b.py "], ("a.py", "b.py")),
    (ops.APPEND_ENTRY, "files", "a.py", Err("expected an array of strings, got string")),
    (ops.APPEND_ENTRY, "files", ["x"] * (rules.MAX_FILES + 1), Err("too many items (1001, at most 1000)")),
    (ops.APPEND_ENTRY, "files", ["a\nb"], Err("must not contain line breaks")),
    (ops.APPEND_ENTRY, "files", [3], Err("expected a string, got number")),
    (ops.APPEND_ENTRY, "author", "claude-code", OK),
    (ops.APPEND_ENTRY, "author", "<script>", Err("does not match a name of letters")),
    (ops.APPEND_ENTRY, "request_id", "r" * 129, Err("too long (129 characters, at most 128)")),
    (ops.START_SESSION, "backlog_id", "B-1234", OK),
    (ops.START_SESSION, "backlog_id", "B-١٢٣", Err("does not match B-<digits>")),
    (ops.START_SESSION, "backlog_id", "B-" + "1" * 20, Err("too long (22 characters, at most 16)")),
    (ops.START_SESSION, "tags", ["a"] * 33, Err("too many items (33, at most 32)")),
    (ops.START_SESSION, "tags", ["t" * 65], Err("too long (65 characters, at most 64)")),
    (ops.START_SESSION, "title", " ", Err("must not be empty")),
    (ops.LIST_SESSIONS, "limit", None, 50),
    (ops.LIST_SESSIONS, "limit", 1000, OK),
    (ops.LIST_SESSIONS, "limit", 1001, Err("must be between 1 and 1000, got 1001")),
    (ops.LIST_SESSIONS, "limit", 0, Err("must be between 1 and 1000, got 0")),
    (ops.LIST_SESSIONS, "limit", True, Err("expected an integer, got boolean")),
    (ops.LIST_SESSIONS, "limit", 5.0, 5),
    (ops.LIST_SESSIONS, "limit", 5.5, Err("expected an integer, got 5.5")),
    (ops.LIST_SESSIONS, "status", "completed", OK),
    (ops.UPDATE_SESSION, "status", "completed", Err("must be one of active, paused")),
    (ops.UPDATE_SESSION, "session_id", None, Err("is required")),
    (ops.GET_ENTRIES, "after_id", -1, Err("must be between 0 and")),
    (ops.GET_ENTRIES, "kinds", ["note", "commit"], ("note", "commit")),
    (ops.GET_ENTRIES, "kinds", ["nope"], Err("must be one of note")),
    (ops.SEARCH, "query", "q" * 1001, Err("too long (1001 characters, at most 1000)")),
    (ops.SEARCH, "limit", 201, Err("must be between 1 and 200")),
    (ops.GET_CONTEXT, "max_chars", None, 12000),
    (ops.GET_CONTEXT, "max_chars", 999, Err("must be between 1000 and 1000000, got 999")),
    (ops.GET_CONTEXT, "max_tokens", None, None),
    (ops.GET_CONTEXT, "max_tokens", 99, Err("must be between 100 and 250000")),
    (ops.GET_CONTEXT, "format", None, "json"),
    (ops.GET_CONTEXT, "format", "html", Err("must be one of json, markdown")),
    (ops.GET_CONTEXT, "sections", ["diff", "git"], ("diff", "git")),
    (ops.GET_CONTEXT, "sections", ["gti"], Err("must be one of session, git")),
    (ops.GET_CONTEXT, "since", "e" * 65, Err("too long")),
    (ops.REPORT, "kind", None, "time"),
    (ops.REPORT, "kind", "weekly", Err("must be one of time, standup")),
    (ops.REPORT, "by", "team", Err("must be one of item, day, branch")),
]


@pytest.mark.parametrize(
    ("op", "name", "value", "expected"),
    CASES,
    ids=[f"{op.name.removeprefix('scribe/')}.{name}.{n}" for n, (op, name, *_) in enumerate(CASES)],
)
def test_a_field_holds_a_value_to_its_declared_rule(
    op: ops.Operation, name: str, value: Any, expected: Any
) -> None:
    field = op.field(name)
    if isinstance(expected, Err):
        with pytest.raises(InvalidParams) as raised:
            field.check(value)
        where = raised.value.field
        assert where.partition("[")[0] == name, "the error names the field"
        assert expected in raised.value.problem
    else:
        assert field.check(value) == (value if expected is OK else expected)


def test_an_operation_checks_every_field_and_names_the_first_it_refuses() -> None:
    checked = ops.APPEND_ENTRY.check(text="hi", files=["a.py"])
    assert checked == {
        "text": "hi",
        "kind": "note",
        "session_id": None,
        "files": ("a.py",),
        "request_id": None,
        "author": None,
    }
    with pytest.raises(InvalidParams) as raised:
        ops.START_SESSION.check(backlog_id="nope", title="")
    assert raised.value.field == "backlog_id"


def test_wire_params_become_api_arguments_and_undeclared_ones_are_ignored() -> None:
    assert ops.GET_ENTRIES.arguments({"sessionId": "s-1", "afterId": 3, "bogus": 1}) == {
        "session_id": "s-1",
        "after_id": 3,
        "limit": None,
        "kinds": None,
    }
