"""DSPy programs using scribe-ls: a ReAct program over the native tools and over the MCP
route (`dspy.Tool.from_mcp_tool` on `scribe-ls mcp`), with `dspy.utils.DummyLM`: no
network, no model; the trajectory shows what the tools answered."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dspy
import pytest
from dspy.utils import DummyLM
from mcp import Client, StdioServerParameters

from scribe_ls import Scribe
from scribe_ls.agents.dspy_tools import scribe_tools

pytestmark = pytest.mark.timeout(90)


def scripted_lm() -> DummyLM:
    """The model's turns: read the context, record a decision, finish, answer."""
    return DummyLM(
        [
            {"next_thought": "What is going on?", "next_tool_name": "scribe_context", "next_tool_args": {}},
            {
                "next_thought": "Record the decision.",
                "next_tool_name": "scribe_note",
                "next_tool_args": {"text": "evict by age, not by size", "kind": "decision"},
            },
            {"next_thought": "Done.", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "The packet showed the work; the decision is recorded.", "answer": "recorded"},
        ]
    )


async def test_a_react_program_reads_the_packet_and_records_a_decision(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        await scribe.start_session(title="Cache eviction")
        await scribe.note("the cache grows without bound")
        agent = dspy.ReAct("task -> answer", tools=scribe_tools(scribe), max_iters=4)
        with dspy.context(lm=scripted_lm()):
            result = await agent.acall(task="decide how the cache evicts")
        assert result.answer == "recorded"
        observations = [v for k, v in result.trajectory.items() if k.startswith("observation")]
        assert "the cache grows without bound" in observations[0] and "etag " in observations[0]
        assert observations[1].startswith("recorded #")
        entries, _ = await scribe.get_entries((await scribe.current_session()).id)  # type: ignore[union-attr]
        last = entries[-1]
        assert (last.kind, last.text, last.author) == ("decision", "evict by age, not by size", "dspy")
        # A tool's error is text the program reads, not an exception that ends it.
        [_, note, _, _] = scribe_tools(scribe)
        assert (await note.acall(text="x", kind="rant")).startswith("error: kind: must be one of")


async def test_the_mcp_route_gives_dspy_the_same_tools(repo: Path) -> None:
    async with Scribe(repo) as scribe:
        await scribe.start_session(title="Cache eviction")
        await scribe.note("the cache grows without bound")
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "scribe_ls", "mcp"], cwd=str(repo), env=dict(os.environ)
    )
    async with Client(server, mode="legacy") as client:
        listed = (await client.list_tools()).tools
        tools = [dspy.Tool.from_mcp_tool(client, tool) for tool in listed]
        assert {"scribe_context", "scribe_note", "scribe_resume"} <= {tool.name for tool in tools}
        agent = dspy.ReAct("task -> answer", tools=tools, max_iters=4)
        with dspy.context(lm=scripted_lm()):
            result = await agent.acall(task="decide how the cache evicts")
    assert "the cache grows without bound" in str(result.trajectory["observation_0"])
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    # The SDK client names itself "mcp": that is the author the server records.
    assert "- Decision: evict by age, not by size (by mcp)" in worklog
