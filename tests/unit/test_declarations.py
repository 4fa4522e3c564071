"""Each operation is declared once (scribe_ls/contract/operations.py); what every route shows
of it is derived from that, and held to it here: the JSON-RPC method table, the Python
facade, the MCP tools' schemas, the CLI's flags and words, docs/protocol.md and the
dashboard's note field."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.cli import parser as cli
from scribe_ls.contract import operations as ops
from scribe_ls.contract import rules
from scribe_ls.contract.fields import INTEGER, STRING, STRINGS
from scribe_ls.core.service import Scribe
from scribe_ls.rpc.methods import METHODS, REQUEST_FIELDS, capabilities

ROOT = Path(__file__).parents[2]

# The MCP tool that offers each operation (an agent's words for it).
TOOLS = {
    "scribe_context": ops.GET_CONTEXT,
    "scribe_note": ops.APPEND_ENTRY,
    "scribe_start_session": ops.START_SESSION,
    "scribe_stop_session": ops.STOP_SESSION,
    "scribe_list_sessions": ops.LIST_SESSIONS,
    "scribe_search": ops.SEARCH,
    "scribe_summarize": ops.SUMMARIZE,
    "scribe_resume": ops.RESUME,
    "scribe_report": ops.REPORT,
}


def test_the_method_table_is_the_declarations_in_order() -> None:
    assert [m.name for m in METHODS] == [op.name for op in ops.OPERATIONS]
    assert capabilities()["methods"] == [op.name for op in ops.OPERATIONS]
    for op in ops.OPERATIONS:
        assert REQUEST_FIELDS[op.name] == tuple(f.wire for f in op.fields)
        assert [m.progress for m in METHODS if m.name == op.name] == [op.progress]


@pytest.mark.parametrize("op", ops.OPERATIONS, ids=lambda op: op.name)
def test_the_python_api_takes_every_declared_field(op: ops.Operation) -> None:
    handler = getattr(Scribe, op.handler)
    assert inspect.iscoroutinefunction(handler), f"Scribe.{op.handler} is async"
    taken = set(inspect.signature(handler).parameters)
    missing = {f.name for f in op.fields if f.name is not None} - taken
    assert not missing, f"Scribe.{op.handler} does not take {missing}"


def test_the_protocol_doc_holds_the_declarations() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    begin = text.index("<!-- methods:begin")
    generated = text[text.index("-->", begin) + 3 : text.index("<!-- methods:end -->")].strip("\n") + "\n"
    assert generated == ops.markdown(), (
        "run python -m scribe_ls.contract.operations; paste it between the markers"
    )
    for op in ops.OPERATIONS:
        for field in op.fields:
            assert f"| `{field.wire}` | {field.type} |" in generated


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional argument's schema without its ``null`` branch."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    assert len(options) == 1, schema
    return {**options[0], **{k: v for k, v in schema.items() if k not in ("anyOf",)}}


async def test_every_mcp_tool_argument_is_its_declared_field(tmp_path: Path) -> None:
    from scribe_ls.agents.mcp_server import build

    server, _ = build(Scribe(tmp_path))  # not opened: only the tools' schemas are read
    tools = {tool.name: tool for tool in await server.list_tools()}
    assert set(TOOLS) <= set(tools)
    for name, op in TOOLS.items():
        schema = tools[name].input_schema
        for argument, raw in schema["properties"].items():
            field = op.field(argument)
            shown = _plain(raw)
            where = f"{name}.{argument}"
            if field.type == INTEGER:
                assert shown["type"] == "integer", where
                assert shown["maximum"] == field.high, where
                assert shown["minimum"] >= field.low, where  # a tool may narrow, never widen
            elif field.type == STRINGS:
                assert shown["maxItems"] == field.max_items, where
                item = shown["items"]
                if field.choices:
                    assert set(item["enum"]) <= set(field.choices), where
                else:
                    assert item["maxLength"] == field.max_len, where
            elif field.choices:
                assert set(shown["enum"]) <= set(field.choices), where
            else:
                assert shown["type"] == "string", where
                assert shown["maxLength"] == (field.max_len or rules.MAX_LABEL), where
            assert shown.get("description"), f"{where} says what it is"
        assert set(schema.get("required", [])) <= {f.name for f in op.fields if f.required}, name


def _actions(verb: str) -> list[argparse.Action]:
    parser, _ = cli.build_parser(only=verb)
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(verbs.choices[verb]._actions)


@pytest.mark.parametrize("verb", sorted(cli.VERB_OPERATIONS))
def test_a_verbs_flags_are_its_operations_fields(verb: str) -> None:
    op = cli.VERB_OPERATIONS[verb]
    spelled = {f.cli: f for f in op.fields if f.cli is not None}
    for action in _actions(verb):
        names = action.option_strings or [action.dest]
        field = next((spelled[n] for n in names if n in spelled), None)
        if field is None:
            continue
        where = f"{verb} {names[0]}"
        if field.type == INTEGER:
            assert action.type is int, where
            assert f"{field.low:,}-{field.high:,}" in (action.help or ""), f"{where} says its bounds"
        if field.type == STRING and field.choices:
            assert action.choices is not None and set(action.choices) <= set(field.choices), where
        if field.type == STRINGS and names[0].startswith("--") and not field.choices:
            assert action.dest == field.name, where
        assert action.help, f"{where} has help"


@pytest.mark.parametrize("op", ops.OPERATIONS, ids=lambda op: op.name)
def test_a_refused_field_is_named_as_the_cli_spells_it(op: ops.Operation) -> None:
    verbs = [verb for verb, its in cli.VERB_OPERATIONS.items() if its is op]
    for verb in verbs:
        for field in op.fields:
            if field.cli is not None and field.name is not None:
                expected = "target" if field.name == "session_id" and verb in cli.TARGET_VERBS else field.cli
                assert cli.flag_of(field.name, verb) == expected


def test_the_dashboards_note_field_takes_what_an_entry_may_hold() -> None:
    from scribe_ls.dashboard.site import read_asset

    page = read_asset("index.html").decode()
    assert f'maxlength="{ops.APPEND_ENTRY.field("text").max_len}"' in page
