"""DSPy 3 tools over the async API: ``context``, ``note``, ``search`` and ``resume`` for a
``dspy.ReAct`` program (``pip install 'scribe-ls[dspy]'``).

```python
async with Scribe(repo) as scribe:
    agent = dspy.ReAct("task -> answer", tools=scribe_tools(scribe))
    result = await agent.acall(task="fix the cache eviction")
```

Each tool is async (``Tool.acall``) and answers text a model reads well (the packet's
Markdown, one line per hit); what it writes carries ``author`` (default ``dspy``). An error
(no session, a bad argument) comes back as the tool's text, ``error: ...``, so the program
can read it and go on. The same tools are also reachable over MCP: ``scribe-ls mcp`` and
``dspy.Tool.from_mcp_tool`` (see the README).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import dspy

from ..context.packet_text import packet_text
from ..core.service import Scribe
from ..errors import ScribeError


async def _text(work: Awaitable[str]) -> str:
    try:
        return await work
    except ScribeError as exc:
        return f"error: {exc.message}"


def scribe_tools(scribe: Scribe, *, author: str = "dspy") -> list[dspy.Tool]:
    """DSPy tools over an open :class:`Scribe`."""

    async def context(max_tokens: int = 4000, since: str = "") -> str:
        async def run() -> str:
            # At most max_tokens with its etag line; 12,000 characters as every packet.
            text, _ = await packet_text(scribe, max_chars=12000, max_tokens=max_tokens, since=since or None)
            return text

        return await _text(run())

    async def note(text: str, kind: str = "note") -> str:
        async def run() -> str:
            entry = await scribe.append_entry(text, kind, author=author)
            return f"recorded #{entry.id} ({entry.kind})"

        return await _text(run())

    async def search(query: str) -> str:
        async def run() -> str:
            hits = await scribe.search(query, 10)
            if not hits:
                return "no matches"
            return "\n".join(
                f"#{hit.entry.id} {hit.backlog_id or '-'} {hit.entry.kind}: {hit.snippet}" for hit in hits
            )

        return await _text(run())

    async def resume(backlog_id: str = "") -> str:
        async def run() -> str:
            return str((await scribe.resume(backlog_id or None))["markdown"])

        return await _text(run())

    described: list[tuple[Callable[..., Awaitable[Any]], str, str]] = [
        (
            context,
            "scribe_context",
            "The developer's current work: session, git status, diff, commits, worklog, summary, other"
            " sessions; as Markdown cut to max_tokens. Give `since` (an etag) for only what changed.",
        ),
        (
            note,
            "scribe_note",
            "Record a note, decision, idea or todo (kind) in the developer's worklog.",
        ),
        (search, "scribe_search", "Search every note, decision, commit and activity entry here."),
        (resume, "scribe_resume", "Where a backlog item's work stands (default: the current one)."),
    ]
    return [dspy.Tool(function, name=name, desc=desc) for function, name, desc in described]
