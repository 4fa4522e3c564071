"""One field of an operation: its names, its JSON type, its rule and limits, its doc.

Everything a client can be told about a field comes from here: the check (through
:mod:`scribe_ls.contract.rules`), the line of ``docs/protocol.md``, the JSON Schema of an MCP
tool's argument and the CLI flag's help. The lean CLI imports the
declarations at start-up (what that costs: bench/RESULTS.md).
"""

from __future__ import annotations

import re
from typing import Any

from . import rules

STRING = "string"
INTEGER = "integer"
STRINGS = "string[]"
TOKEN = "string | integer"  # LSP's workDoneToken: read by the wire layer only


class Field:
    """A field of a request's params, as the wire, the Python API and the CLI name it.

    A plain class with slots, not a NamedTuple or a dataclass: the lean CLI builds every
    declaration at start-up, and making those classes costs it (bench/RESULTS.md, "The lean
    CLI and the reshaped core")."""

    __slots__ = (
        "choices",
        "cli",
        "default",
        "default_doc",
        "doc",
        "high",
        "hint",
        "low",
        "max_items",
        "max_len",
        "name",
        "one_line",
        "pattern",
        "required",
        "trim",
        "type",
        "wire",
    )

    def __init__(
        self,
        wire: str,
        name: str | None,
        type: str,
        doc: str = "",
        *,
        required: bool = False,
        default: Any = None,
        default_doc: str = "",
        max_len: int | None = None,
        low: int | None = None,
        high: int | None = None,
        max_items: int | None = None,
        choices: tuple[str, ...] = (),
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        one_line: bool = False,
        trim: bool = False,
        cli: str | None = None,
    ) -> None:
        self.wire = wire  # as a client sends it: "backlogId"
        self.name = name  # the Python API's argument: "backlog_id"; None: read by the wire layer
        self.type = type  # STRING, INTEGER, STRINGS or TOKEN
        self.doc = doc  # what the field means (limits and defaults are said from the values below)
        self.required = required
        self.default = default  # what an absent field means, when that is a value
        self.default_doc = default_doc  # what an absent field means, when it is not a plain value
        self.max_len = max_len  # a string's characters (each item's, for a list)
        self.low = low  # an integer's bounds
        self.high = high
        self.max_items = max_items  # a list's length
        self.choices = choices
        self.pattern = pattern
        self.hint = hint  # the pattern in words, for the message when a value does not match
        self.one_line = one_line  # list items without line breaks (paths)
        self.trim = trim  # outer blank lines dropped (an entry's text)
        self.cli = cli  # the CLI's flag ("--backlog-id") or positional name ("text")

    def __repr__(self) -> str:
        return f"Field({self.wire!r})"

    def check(self, value: Any) -> Any:
        """The value to use, or :class:`~scribe_ls.errors.InvalidParams` naming the field."""
        name = self.name or self.wire
        if self.type == INTEGER:
            if value is None:
                return self.default
            assert self.low is not None and self.high is not None
            return rules.integer(value, name, low=self.low, high=self.high, default=self.default)
        if self.type == STRINGS:
            assert self.max_items is not None and self.max_len is not None
            return rules.string_list(
                value,
                name,
                max_items=self.max_items,
                max_len=self.max_len,
                choices=self.choices,
                one_line=self.one_line,
            )
        checked = rules.string(
            value,
            name,
            max_len=self.max_len or rules.MAX_LABEL,
            required=self.required,
            choices=self.choices,
            pattern=self.pattern,
            hint=self.hint,
        )
        if checked is None:
            return self.default
        return checked.strip("\n") if self.trim else checked

    def describe(self) -> str:
        """The field in words, limits and default included: one cell of the protocol's
        tables, an MCP argument's description, a CLI flag's help."""
        said = [self.doc] if self.doc else []
        if self.required:
            said.insert(0, "required")
        if self.choices and self.type == STRING:
            said.append(
                ", ".join(f"`{c}`" + (" (default)" if c == self.default else "") for c in self.choices)
            )
        elif self.choices:
            said.append("any of " + " ".join(f"`{c}`" for c in self.choices))
        if self.type == INTEGER and self.low is not None and self.high is not None:
            said.append(f"{self.low:,}-{self.high:,}")
        elif self.max_items is not None and not self.choices:
            said.append(f"at most {self.max_items:,}" + (f", each up to {self.max_len:,} characters"))
        elif self.max_len is not None and not self.choices and self.pattern is None:
            said.append(f"up to {self.max_len:,} characters")
        if self.default_doc:
            said.append(f"default: {self.default_doc}")
        elif self.default is not None and not (self.choices and self.type == STRING):
            said.append(
                f"default {self.default:,}" if isinstance(self.default, int) else f"default {self.default}"
            )
        return "; ".join(said)

    def json_schema(self, *, choices: tuple[str, ...] | None = None) -> dict[str, Any]:
        """This field's JSON Schema (an MCP tool's argument). ``choices`` narrows them (a
        tool that offers fewer than the wire)."""
        allowed = list(choices if choices is not None else self.choices)
        if self.type == INTEGER:
            return {"type": "integer", "minimum": self.low, "maximum": self.high}
        if self.type == STRINGS:
            item: dict[str, Any] = {"type": "string", "maxLength": self.max_len}
            if allowed:
                item = {"enum": allowed, "type": "string"}
            return {"type": "array", "items": item, "maxItems": self.max_items}
        if allowed:
            return {"enum": allowed, "type": "string"}
        schema: dict[str, Any] = {
            "type": "string",
            "minLength": 1,
            "maxLength": self.max_len or rules.MAX_LABEL,
        }
        if self.pattern is not None:
            schema["pattern"] = f"^{self.pattern.pattern.strip('^$')}$"
        return schema

    def but(self, **changes: Any) -> Field:
        """The same field with a few things said differently (another doc, required)."""
        given = {slot: getattr(self, slot) for slot in self.__slots__}
        wire, name, type = (
            changes.pop("wire", self.wire),
            changes.pop("name", self.name),
            changes.pop("type", self.type),
        )
        for positional in ("wire", "name", "type"):
            given.pop(positional)
        return Field(wire, name, type, **{**given, **changes})
