"""The context packet as the text its reader gets, whatever hands it over (MCP's
``scribe_context``, the DSPy tool, ``scribe-ls context``): the packet's Markdown (or its
JSON) and, for an agent, a last line with its etag to pass back as ``since``, within both
budgets together.

JSON written for a model has ``<`` and ``>`` as ``\\u003c`` and ``\\u003e`` (the same data
when read back): no text from the repository can open a tag in it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.service import Scribe
from .tokens import estimate_tokens

ETAG_LINE = "\n\n(etag {etag}: pass it as since to get only what changed)"
ETAG_LINE_CHARS = len(ETAG_LINE.format(etag="0" * 16))  # an etag is 16 hex digits
ETAG_LINE_TOKENS = 24
MIN_CHARS = 1000 + ETAG_LINE_CHARS  # the packet's own least budget, and the line
MIN_TOKENS = 100 + ETAG_LINE_TOKENS


def agent_json(data: Any, indent: int | None = 2) -> str:
    separators = None if indent else (",", ":")
    text = json.dumps(data, ensure_ascii=False, indent=indent, separators=separators)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


async def packet_text(
    scribe: Scribe,
    *,
    max_chars: int,
    max_tokens: int | None = None,
    format: str = "markdown",
    sections: Sequence[str] | None = None,
    session_id: str | None = None,
    since: str | None = None,
    etag_line: bool = True,
) -> tuple[str, dict[str, Any]]:
    """The text (at most ``max_chars`` characters and ``max_tokens`` estimated tokens) and
    the packet it came from."""
    line_chars, line_tokens = (ETAG_LINE_CHARS, ETAG_LINE_TOKENS) if etag_line else (0, 0)
    chars = max_chars - line_chars
    tokens = None if max_tokens is None else max_tokens - line_tokens
    for _ in range(4):  # JSON's escaped < > can push the text past the budget: ask for less
        packet = await scribe.context(
            session_id, sections=sections, max_chars=chars, format=format, max_tokens=tokens, since=since
        )
        body = packet["markdown"] if format == "markdown" else agent_json(packet, indent=None)
        text = body.rstrip("\n") + (ETAG_LINE.format(etag=packet["etag"]) if etag_line else "")
        over = len(text) - max_chars
        over_tokens = 0 if max_tokens is None else estimate_tokens(text) - max_tokens
        if over <= 0 and over_tokens <= 0:
            break
        chars = max(1000, chars - max(over, 0) - 16)
        tokens = None if tokens is None else max(100, tokens - max(over_tokens, 0) - 4)
    return text, packet
