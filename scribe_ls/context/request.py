"""A context request: what was asked for, held to GET_CONTEXT's declaration, and the
least budget a JSON packet of those sections can keep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParams
from ..model import CONTEXT_SECTIONS
from .budget import size, to_json
from .tokens import ESTIMATOR, estimate_tokens


@dataclass(frozen=True, slots=True)
class ContextRequest:
    session_id: str | None
    sections: tuple[str, ...]
    max_chars: int
    format: str  # json | markdown
    max_tokens: int | None = None  # a second bound, in estimated tokens (tokens.py)
    since: str | None = None  # the etag of a packet the client has: answer what changed (delta.py)


def json_floor(sections: tuple[str, ...]) -> tuple[int, int]:
    """The characters and estimated tokens of the smallest JSON packet of ``sections``: its
    keys, and every section left out saying so. A budget below it cannot be kept."""
    dropped = {
        "ok": False,
        "error": "left out to fit the budget (9999999 changed files)",
        "elapsedMs": 99999.99,
    }
    skeleton = {
        **widest_envelope("s-000000000000", dict.fromkeys(sections)),
        "sections": dict.fromkeys(sections, dropped),
    }
    return size(skeleton), estimate_tokens(to_json(skeleton))


def widest_envelope(session_id: str | None, sections: dict[str, Any]) -> dict[str, Any]:
    """A JSON packet's keys around its sections, each at the widest it can be."""
    return {
        "sessionId": session_id,
        "sections": {},
        "truncated": False,
        "sectionTokens": {name: 9_999_999 for name in sections},
        "tokens": 9_999_999,
        "tokenEstimator": ESTIMATOR,
        "etag": "0" * 16,
        "full": False,
        "cached": False,
        "elapsedMs": 9_999_999.99,
    }


def context_request(given: dict[str, Any]) -> ContextRequest:
    """The request for arguments checked by ``GET_CONTEXT.check``. A JSON packet's keys and
    its sections' stubs cost something however much is cut: a budget below that is refused
    (naming the field), not silently exceeded."""
    sections = tuple(given["sections"] or CONTEXT_SECTIONS)
    if given["format"] == "json":
        floor_chars, floor_tokens = json_floor(sections)
        for field, asked, floor in (
            ("max_chars", given["max_chars"], floor_chars),
            ("max_tokens", given["max_tokens"], floor_tokens),
        ):
            if asked is not None and asked < floor:
                raise InvalidParams(
                    field,
                    f"a JSON packet of these sections needs at least {floor} (its keys, and what each"
                    " section left out): ask for fewer sections, a larger budget, or format markdown",
                )
    return ContextRequest(
        given["session_id"],
        sections,
        given["max_chars"],
        given["format"],
        given["max_tokens"],
        given["since"],
    )
