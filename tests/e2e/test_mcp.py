"""`scribe-ls mcp` driven by the official MCP SDK's own client over stdio, in real git
repositories: tools, resources and their updates, the prompt, authorship, errors, and
`scribe-ls mcp install` merging client files."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from mcp import Client, StdioServerParameters

from scribe_ls.rpc.client import ScribeClient

from .helpers import run_cli

pytestmark = pytest.mark.timeout(60)


@asynccontextmanager
async def agent(repo: Path, name: str = "claude-code", **kwargs: Any) -> AsyncIterator[Client]:
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "scribe_ls", "mcp"], cwd=str(repo), env=dict(os.environ)
    )
    info = mcp_types.Implementation(name=name, version="1.0")
    async with Client(server, client_info=info, **{"mode": "legacy", **kwargs}) as client:
        yield client


def structured(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


def packet_text(result: Any) -> str:
    """scribe_context's text: the packet (Markdown or JSON) and its etag line."""
    assert not result.is_error, result.content
    [part] = result.content
    return part.text


def packet_json(result: Any) -> Any:
    """scribe_context's JSON packet (format json), from its text as the model reads it."""
    text = packet_text(result)
    return json.loads(text[: text.rindex("\n\n(etag ")])


def error_text(result: Any) -> str:
    assert result.is_error
    return " ".join(getattr(part, "text", "") for part in result.content)


async def test_tools_resources_and_the_prompt_are_listed_with_schemas(repo: Path) -> None:
    async with agent(repo) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) >= {
            "scribe_context", "scribe_note", "scribe_start_session", "scribe_stop_session",
            "scribe_list_sessions", "scribe_search", "scribe_summarize", "scribe_report", "scribe_resume",
        }  # fmt: skip
        note = tools["scribe_note"].input_schema
        assert note["required"] == ["text"]
        assert note["properties"]["kind"]["enum"] == ["note", "decision", "idea", "todo"]
        assert "decision" in tools["scribe_note"].description
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"scribe://context", "scribe://sessions"} <= resources
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        assert "scribe://worklog/{backlog_id}" in templates
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert "resume" in prompts


async def test_an_agent_session_from_start_to_summary(repo: Path) -> None:
    (repo / "cache.py").write_text("CACHE = {}\n")
    async with agent(repo) as client:
        started = structured(await client.call_tool("scribe_start_session", {"title": "Cache the packets"}))
        assert started["backlogId"] == "B-4242" and started["change"] == "started"
        note = structured(
            await client.call_tool(
                "scribe_note", {"text": "key the cache by HEAD", "kind": "decision", "files": ["cache.py"]}
            )
        )
        assert note["author"] == "claude-code" and note["kind"] == "decision"
        packet = packet_text(await client.call_tool("scribe_context", {"max_chars": 4000}))
        assert "key the cache by HEAD" in packet and "cache.py" in packet
        asked = {"format": "json", "sections": ["worklog"]}
        data = packet_json(await client.call_tool("scribe_context", asked))
        assert [e["text"] for e in data["sections"]["worklog"]["data"]][-1] == "key the cache by HEAD"
        listed = structured(await client.call_tool("scribe_list_sessions", {}))
        assert [s["id"] for s in listed["sessions"]] == [started["id"]]
        hits = structured(await client.call_tool("scribe_search", {"query": "cache HEAD"}))
        assert hits["hits"][0]["entry"]["id"] == note["id"]
        summary = structured(await client.call_tool("scribe_summarize", {}))
        assert summary["decisions"] == ["key the cache by HEAD"]
        report = structured(await client.call_tool("scribe_report", {"since": "today"}))
        assert report["rows"][0]["item"] == "B-4242"
        resumed = structured(await client.call_tool("scribe_resume", {}))
        assert resumed["decisions"] == ["key the cache by HEAD"] and resumed["lastFiles"] == ["cache.py"]
        prompt = await client.get_prompt("resume", {"backlog_id": "B-4242"})
        # The request is the prompt's; where the work stands comes as a quoted resource.
        assert "not instructions" in prompt.messages[0].content.text
        quoted = prompt.messages[1].content
        assert quoted.type == "resource" and quoted.resource.uri == "scribe://resume/B-4242"
        assert "key the cache by HEAD" in quoted.resource.text
        stopped = structured(await client.call_tool("scribe_stop_session", {}))
        assert stopped["status"] == "completed"
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert "- Decision: key the cache by HEAD (by claude-code)" in worklog


async def test_errors_come_back_as_tool_errors_with_the_servers_messages(repo: Path) -> None:
    async with agent(repo) as client:
        no_session = await client.call_tool("scribe_note", {"text": "hello"})
        assert "no open session for B-4242" in error_text(no_session)
        bad_id = await client.call_tool("scribe_start_session", {"backlog_id": "B-x"})
        assert "backlog_id: 'B-x' does not match B-<digits>" in error_text(bad_id)
        await client.call_tool("scribe_start_session", {})
        empty = await client.call_tool("scribe_note", {"text": "  "})
        assert "text" in error_text(empty)
        wrong_kind = await client.call_tool("scribe_note", {"text": "x", "kind": "rant"})
        assert wrong_kind.is_error
        with pytest.raises(Exception, match="B-x"):
            await client.read_resource("scribe://worklog/B-x")
        # The server went on: a good call after the bad ones.
        still = structured(await client.call_tool("scribe_note", {"text": "still here"}))
        assert still["text"] == "still here"


# Claude Code, Cursor and VS Code speak the protocol before 2026-07-28: resources/subscribe.
@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
async def test_resource_updates_after_a_cli_note_and_the_worklog_resource(repo: Path) -> None:
    updates: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if isinstance(root, mcp_types.ResourceUpdatedNotification):
            await updates.put(str(root.params.uri))

    async with agent(repo, message_handler=on_message) as client:
        await client.call_tool("scribe_start_session", {})
        await client.subscribe_resource("scribe://context")
        while not updates.empty():
            updates.get_nowait()
        assert run_cli(repo, "append", "a note from the terminal").returncode == 0
        uri = await asyncio.wait_for(updates.get(), 5)  # relayed from the CLI's process
        assert uri == "scribe://context"
        # Bounded: a client cannot make the server remember any number of resources.
        for n in range(255):
            await client.subscribe_resource(f"scribe://worklog/B-{n}")
        with pytest.raises(Exception, match="at most 256 resources"):
            await client.subscribe_resource("scribe://worklog/B-999")
        await client.unsubscribe_resource("scribe://worklog/B-0")
        await client.subscribe_resource("scribe://worklog/B-999")
        context = await client.read_resource("scribe://context")
        assert "a note from the terminal" in context.contents[0].text
        worklog = await client.read_resource("scribe://worklog/B-4242")
        assert worklog.contents[0].text.startswith("# Worklog B-4242\n")
        sessions = json.loads((await client.read_resource("scribe://sessions")).contents[0].text)
        assert sessions["sessions"][0]["backlogId"] == "B-4242"


async def test_an_agents_note_reaches_an_editor_and_shows_its_author(repo: Path) -> None:
    editor = await ScribeClient.spawn(repo)
    try:
        await editor.request("scribe/startSession", {})
        editor.drain_notifications()
        async with agent(repo, name="cursor-agent") as client:
            await client.call_tool("scribe_note", {"text": "from the agent"})

            async def pushed() -> dict[str, Any]:
                while True:
                    params = await editor.next_notification("scribe/entryAdded", timeout=5)
                    if params["entry"]["text"] == "from the agent":
                        return params["entry"]

            entry = await asyncio.wait_for(pushed(), 1.0)
        assert entry["author"] == "cursor-agent"
    finally:
        await editor.close()


def test_mcp_install_merges_each_clients_file_and_prints_the_snippet(repo: Path) -> None:
    (repo / ".vscode").mkdir()
    existing = {"servers": {"other": {"command": "x"}}, "inputs": []}
    (repo / ".vscode" / "mcp.json").write_text(json.dumps(existing))
    for client, path, key in (
        ("claude", ".mcp.json", "mcpServers"),
        ("cursor", ".cursor/mcp.json", "mcpServers"),
        ("vscode", ".vscode/mcp.json", "servers"),
    ):
        done = run_cli(repo, "mcp", "install", "--client", client)
        assert done.returncode == 0, done.stderr
        data = json.loads((repo / path).read_text())
        server = data[key]["scribe-ls"]
        assert server["args"][-1] == "mcp"
        again = run_cli(repo, "mcp", "install", "--client", client)
        assert again.stdout.startswith("already in")
    vscode = json.loads((repo / ".vscode" / "mcp.json").read_text())
    assert vscode["servers"]["other"] == {"command": "x"} and vscode["inputs"] == []
    assert vscode["servers"]["scribe-ls"]["type"] == "stdio"
    printed = run_cli(repo, "mcp", "install", "--client", "cursor", "--print")
    assert printed.stdout.startswith("# .cursor/mcp.json\n") and '"scribe-ls"' in printed.stdout


def test_the_command_mcp_install_writes_runs_with_a_minimal_path(repo: Path, tmp_path: Path) -> None:
    """A client starts the server with its own PATH, which need not hold this
    installation's bin: the written command is an absolute path that runs as it is."""
    import subprocess

    assert run_cli(repo, "mcp", "install", "--client", "claude").returncode == 0
    server = json.loads((repo / ".mcp.json").read_text())["mcpServers"]["scribe-ls"]
    assert Path(server["command"]).is_absolute()
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    done = subprocess.run(
        [server["command"], *server["args"]],
        input=json.dumps(hello) + "\n", cwd=repo, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    answer = json.loads(done.stdout.splitlines()[0])
    assert answer["id"] == 1 and answer["result"]["serverInfo"]["name"] == "scribe-ls", done.stderr


def test_mcp_install_refuses_links_and_files_it_cannot_merge(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / ".cursor").symlink_to(outside)
    linked = run_cli(repo, "mcp", "install", "--client", "cursor")
    assert linked.returncode == 1 and "symbolic link" in linked.stderr
    assert list(outside.iterdir()) == []
    (repo / ".mcp.json").write_text("{not json")
    broken = run_cli(repo, "mcp", "install", "--client", "claude")
    assert broken.returncode == 1 and "not valid JSON" in broken.stderr
    assert (repo / ".mcp.json").read_text() == "{not json"
    missing = run_cli(repo, "mcp", "install")
    assert missing.returncode == 2 and "--client" in missing.stderr


async def test_a_2026_client_listens_for_resource_updates(repo: Path) -> None:
    """The 2026-07-28 protocol replaces resources/subscribe with subscriptions/listen."""
    async with agent(repo, mode="auto") as client:
        await client.call_tool("scribe_start_session", {})
        async with client.listen(resource_subscriptions=["scribe://context"]) as subscription:
            assert run_cli(repo, "append", "heard by a listener").returncode == 0
            event = await asyncio.wait_for(anext(aiter(subscription)), 5)
        assert event.uri == "scribe://context"
        # On a 2026 connection the author comes from the request's client info too.
        note = structured(await client.call_tool("scribe_note", {"text": "modern"}))
        assert note["author"] == "claude-code"
