"""Write ``scribe_ls/rpc/initialize_shape.json``: the shape of LSP's ``InitializeParams`` as
lsprotocol declares it, for :mod:`scribe_ls.rpc.handshake` to check a client's
``initialize`` without importing lsprotocol (its import is most of a cold start).

Each class is ``{"fields": {wireName: kind}, "required": [wireName, ...]}``; a kind is
``"bool" | "int" | "uint" | "int32" | "str" | "number" | "null" | "any"`` (``uint`` and
``int32``: LSP's ranges, which lsprotocol's validators check), ``{"ref": Class}``,
``{"list": kind}``, ``{"map": kind}``, ``{"enum": [values]}`` or ``{"union": [kinds]}``.
Anything this script cannot describe becomes ``"unknown"``, which the check accepts only
when the field is absent (the client's message then goes to pygls as before).

    python scripts/initialize_shape.py          # rewrite the file
    python scripts/initialize_shape.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import enum
import json
import sys
import types as pytypes
import typing
from pathlib import Path
from typing import Any

import attrs
from lsprotocol import types
from lsprotocol import validators as lsp_validators

TARGET = Path(__file__).resolve().parent.parent / "scribe_ls" / "rpc" / "initialize_shape.json"


def wire_name(name: str) -> str:
    """lsprotocol's own renaming (its ``_to_camel_case``)."""
    parts = name.removesuffix("_").split("_")
    return parts[0] + "".join(part.title() for part in parts[1:])


def kind_of(hint: Any, classes: dict[str, Any]) -> Any:
    origin = typing.get_origin(hint)
    if hint is type(None):
        return "null"
    if hint is typing.Any or hint is object:
        return "any"
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if hint is float:
        return "number"
    if hint is str:
        return "str"
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": sorted((member.value for member in hint), key=repr)}
    if isinstance(hint, type) and attrs.has(hint):
        describe(hint, classes)
        return {"ref": hint.__name__}
    if origin in (typing.Union, pytypes.UnionType):
        return {"union": [kind_of(arg, classes) for arg in typing.get_args(hint)]}
    if origin is typing.Literal:
        return {"enum": list(typing.get_args(hint))}
    if origin in (list, tuple, typing.Sequence, __import__("collections.abc").abc.Sequence):
        args = typing.get_args(hint)
        return {"list": kind_of(args[0], classes) if args else "any"}
    if origin in (dict, typing.Mapping, __import__("collections.abc").abc.Mapping):
        args = typing.get_args(hint)
        return {"map": kind_of(args[1], classes) if len(args) == 2 else "any"}
    return "unknown"


def narrowed(kind: Any, validator: Any) -> Any:
    """The kind, narrowed by the field's attrs validator (lsprotocol checks LSP's integer
    ranges and some fixed strings there, not in the type)."""
    if validator is None:
        return kind
    inner = getattr(validator, "validator", None)  # attrs' optional(...)
    if inner is not None:
        return narrowed(kind, inner)
    for part in getattr(validator, "_validators", ()):  # attrs' and_(...)
        kind = narrowed(kind, part)
    if validator is lsp_validators.uinteger_validator:
        return _replace_int(kind, "uint")
    if validator is lsp_validators.integer_validator:
        return _replace_int(kind, "int32")
    options = getattr(validator, "options", None)  # attrs' in_(...)
    if options is not None:
        return _replace_leaf(kind, {"enum": list(options)})
    return kind


def _replace_int(kind: Any, new: str) -> Any:
    if kind == "int":
        return new
    if isinstance(kind, dict) and "union" in kind:
        return {"union": [_replace_int(member, new) for member in kind["union"]]}
    if isinstance(kind, dict) and "list" in kind:
        return {"list": _replace_int(kind["list"], new)}
    return kind


def _replace_leaf(kind: Any, new: Any) -> Any:
    if isinstance(kind, dict) and "union" in kind:
        return {"union": [member if member == "null" else new for member in kind["union"]]}
    return new


def describe(cls: type, classes: dict[str, Any]) -> None:
    if cls.__name__ in classes:
        return
    classes[cls.__name__] = {}  # a placeholder first: some classes refer to themselves
    hints = typing.get_type_hints(cls, vars(types))
    fields = {}
    required = []
    for field in attrs.fields(cls):
        name = wire_name(field.name)
        fields[name] = narrowed(kind_of(hints[field.name], classes), field.validator)
        if field.default is attrs.NOTHING:
            required.append(name)
    classes[cls.__name__] = {"fields": fields, "required": required}


def shape() -> dict[str, Any]:
    classes: dict[str, Any] = {}
    describe(types.InitializeParams, classes)
    return {"root": "InitializeParams", "classes": dict(sorted(classes.items()))}


def rendered() -> str:
    return json.dumps(shape(), indent=None, separators=(",", ":"), sort_keys=False) + "\n"


def main() -> int:
    text = rendered()
    if "--check" in sys.argv[1:]:
        if TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python scripts/initialize_shape.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
