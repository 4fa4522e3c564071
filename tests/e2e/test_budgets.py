"""Every budget honoured on every route: the text a client reads (the CLI's output, the
wire's packet, MCP's text, the Python API's, the DSPy tool's, the dashboard's) is at most
``maxChars`` characters and ``maxTokens`` estimated tokens; a cut packet says what it left
out and never that a section is empty when it is not."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.context.tokens import estimate_tokens
from scribe_ls.core.service import Scribe
from scribe_ls.rpc.client import ScribeClient

from .helpers import Dashboard, git, make_git_repo, run_cli
from .test_mcp import agent

pytestmark = pytest.mark.timeout(120)

# (maxChars, maxTokens): small to large, with and without a token bound.
BUDGETS = [(1100, None), (2500, None), (12000, None), (4000, 600), (100_000, 150)]
# A JSON packet of every section needs its keys and each section's stub: 1,053 characters
# and 469 estimated tokens; below that a JSON budget is refused (see the last test).
JSON_BUDGETS = [(c, t) for c, t in BUDGETS if c >= 1100 and (t is None or t >= 500)]


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with 40 changed files of several hunks, 30 commits, untracked files,
    and a session with 60 entries of every kind."""
    repo = make_git_repo(tmp_path_factory.mktemp("budgets") / "repo")
    for n in range(40):
        (repo / f"mod{n:02d}.py").write_text("".join(f"value_{n}_{k} = {k}\n" for k in range(80)))
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "modules")
    for n in range(30):
        (repo / f"mod{n:02d}.py").write_text((repo / f"mod{n:02d}.py").read_text() + f"c{n} = 1\n")
        git(repo, "commit", "-qam", f"change {n}: tune module {n} for the parser")
    for n in range(40):
        lines = (repo / f"mod{n:02d}.py").read_text().splitlines(keepends=True)
        for k in (5, 40, 70):
            lines[k] = f"value_{n}_{k} = 'edited {k}'\n"
        (repo / f"mod{n:02d}.py").write_text("".join(lines))
    for n in range(5):
        (repo / f"new{n}.txt").write_text("untracked\n")

    async def seed() -> None:
        async with Scribe(repo) as scribe:
            await scribe.start_session(title="Parser speed")
            kinds = ("note", "decision", "idea", "todo")
            for n in range(60):
                await scribe.append_entry(
                    f"entry {n}: about the parser's {n}th corner case", kind=kinds[n % 4]
                )

    asyncio.run(seed())
    return repo


def check(text: str, max_chars: int, max_tokens: int | None, what: str) -> None:
    assert len(text) <= max_chars, f"{what}: {len(text)} characters for a budget of {max_chars}"
    if max_tokens is not None:
        assert estimate_tokens(text) <= max_tokens, f"{what}: {estimate_tokens(text)} tokens > {max_tokens}"


def honest(markdown: str, truncated: bool) -> None:
    """A cut packet says what it left out; no section says it is empty when it is not."""
    for false in ("None.", "No entries.", "No session.", "No current session."):
        assert false not in markdown
    if truncated:
        assert "left out to fit the budget" in markdown or "truncated to fit" in markdown, markdown[-400:]


@pytest.mark.parametrize(("max_chars", "max_tokens"), BUDGETS)
async def test_the_python_api(busy: Path, max_chars: int, max_tokens: int | None) -> None:
    async with Scribe(busy) as scribe:
        markdown = await scribe.context(format="markdown", max_chars=max_chars, max_tokens=max_tokens)
        if (max_chars, max_tokens) in JSON_BUDGETS:
            as_json = await scribe.context(format="json", max_chars=max_chars, max_tokens=max_tokens)
            check(compact(as_json), max_chars, max_tokens, "json")
    check(markdown["markdown"], max_chars, max_tokens, "markdown")
    honest(markdown["markdown"], markdown["truncated"])
    assert markdown["tokens"] == estimate_tokens(markdown["markdown"])


@pytest.mark.parametrize(("max_chars", "max_tokens"), BUDGETS)
def test_the_cli(busy: Path, max_chars: int, max_tokens: int | None) -> None:
    bound = ["--max-chars", str(max_chars)] + (
        [] if max_tokens is None else ["--max-tokens", str(max_tokens)]
    )
    done = run_cli(busy, "context", *bound)
    assert done.returncode == 0, done.stderr
    text = done.stdout.removesuffix("\n")
    check(text, max_chars, max_tokens, "cli markdown")
    if (max_chars, max_tokens) in JSON_BUDGETS:
        as_json = run_cli(busy, "context", "--format", "json", *bound)
        check(as_json.stdout.removesuffix("\n"), max_chars, max_tokens, "cli json")
        json.loads(as_json.stdout)


async def test_the_wire_and_a_delta(busy: Path) -> None:
    client = await ScribeClient.spawn(busy)
    try:
        for max_chars, max_tokens in BUDGETS:
            params: dict[str, Any] = {"maxChars": max_chars} | (
                {"maxTokens": max_tokens} if max_tokens else {}
            )
            markdown = await client.request("scribe/getContext", {**params, "format": "markdown"})
            check(markdown["markdown"], max_chars, max_tokens, "wire markdown")
            honest(markdown["markdown"], markdown["truncated"])
            if (max_chars, max_tokens) not in JSON_BUDGETS:
                continue
            as_json = await client.request("scribe/getContext", params)
            check(compact(as_json), max_chars, max_tokens, "wire json")
            await client.request("scribe/appendEntry", {"text": "one more finding " * 30})
            delta = await client.request("scribe/getContext", {**params, "since": as_json["etag"]})
            check(compact(delta), max_chars, max_tokens, "wire json delta")
    finally:
        await client.close()


def _mcp_text(result: Any) -> str:
    assert not result.is_error, result.content
    [part] = result.content
    return part.text


async def test_mcp_text_is_the_packet_within_the_budget(busy: Path) -> None:
    async with agent(busy) as client:
        for max_chars, max_tokens in BUDGETS:
            args: dict[str, Any] = {"max_chars": max_chars} | (
                {"max_tokens": max_tokens} if max_tokens else {}
            )
            result = await client.call_tool("scribe_context", args)
            text = _mcp_text(result)
            check(text, max_chars, max_tokens, "mcp markdown")
            assert text.startswith("# Context — B-4242: Parser speed")
            etag = re.search(r"\(etag ([0-9a-f]{16}): pass it as since", text)
            assert etag and result.structured_content["etag"] == etag[1]
            # The structured part is a few keys, not a second copy of the packet.
            assert len(compact(result.structured_content)) < 300
            if (max_chars, max_tokens) not in JSON_BUDGETS or max_chars < 1200:
                continue  # the JSON skeleton and the etag line need more than these
            as_json = await client.call_tool("scribe_context", {**args, "format": "json"})
            text = _mcp_text(as_json)
            check(text, max_chars, max_tokens, "mcp json")
            json.loads(text[: text.rindex("\n\n(etag")])
        unbounded = _mcp_text(await client.call_tool("scribe_context", {}))
        check(unbounded, 12000, None, "mcp default")
        resource = (await client.read_resource("scribe://context")).contents[0].text
        check(resource, 12000, None, "mcp resource")


def test_the_dspy_tool(busy: Path) -> None:
    dspy_tools = pytest.importorskip("scribe_ls.agents.dspy_tools")

    async def run() -> list[str]:
        async with Scribe(busy) as scribe:
            [tool] = [t for t in dspy_tools.scribe_tools(scribe) if t.name == "scribe_context"]
            return [await tool.acall(max_tokens=tokens) for tokens in (200, 1000)]

    small, large = asyncio.run(run())
    check(small, 12000, 200, "dspy 200")
    check(large, 12000, 1000, "dspy 1000")


def test_the_dashboard(busy: Path) -> None:
    dashboard = Dashboard(busy)
    try:
        answers = dashboard.rpc(
            *[("scribe/getContext", {"format": "markdown", "maxChars": c}) for c, _ in BUDGETS if c < 20000]
        )
    finally:
        dashboard.stop()
    for (max_chars, _), answer in zip([b for b in BUDGETS if b[0] < 20000], answers, strict=True):
        check(answer["result"]["markdown"], max_chars, None, "dashboard")


async def test_a_cut_section_says_what_it_left_out(busy: Path) -> None:
    async with Scribe(busy) as scribe:
        packet = await scribe.context(format="markdown", max_chars=2500)
    text = packet["markdown"]
    assert packet["truncated"]
    # 62 entries in the session (two of them the recorder's): how many are shown is said.
    worklog = text[text.index("## Worklog") :] if "## Worklog" in text else ""
    shown = re.search(r"(\d+) entries, the newest (\d+) shown", text)
    assert shown or "left out to fit the budget (" in text, text
    if shown:
        assert int(shown[1]) >= 60 and worklog
    assert "None." not in text and "No entries." not in text
    # Headings do not change with the state: a cut packet and a whole one use the same.
    whole = await _whole(busy)
    headings = re.findall(r"^## .*$", text, re.M)
    assert set(headings) <= set(re.findall(r"^## .*$", whole, re.M))


async def _whole(repo: Path) -> str:
    async with Scribe(repo) as scribe:
        return (await scribe.context(format="markdown", max_chars=1_000_000))["markdown"]


async def test_empty_sections_are_left_out_not_printed_empty(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    async with Scribe(repo) as scribe:
        await scribe.start_session(title="Fresh")
        text = (await scribe.context(format="markdown"))["markdown"]
    assert "## Diff" not in text  # nothing differs: no header-only table
    assert "## Other open sessions" not in text and "None." not in text
    assert "nothing changed" in text  # the git section says so in words


async def test_a_json_budget_below_its_skeleton_is_refused_naming_the_field(busy: Path) -> None:
    from scribe_ls.errors import ScribeError

    async with Scribe(busy) as scribe:
        with pytest.raises(ScribeError) as refused:
            await scribe.context(format="json", max_tokens=150)
        assert refused.value.code == -32602 and refused.value.message.startswith("max_tokens: a JSON packet")
        # Fewer sections need less: one section fits in 150 tokens.
        packet = await scribe.context(format="json", max_tokens=200, sections=["worklog"])
    check(compact(packet), 12000, 200, "json, one section")


def test_a_default_title_is_the_branchs_words(tmp_path: Path) -> None:
    from scribe_ls.model import title_from_branch

    assert title_from_branch("feature/B-2001-better-help", "B-2001") == "better help"
    assert title_from_branch("feature/B-2001-better-help", "B-7") is None  # another item's branch
    assert title_from_branch("B-5", "B-5") is None
    repo = make_git_repo(tmp_path / "repo", branch="feature/B-2001-better-help")
    started = json.loads(run_cli(repo, "start", "--json").stdout)
    assert started["title"] == "better help"
    text = run_cli(repo, "context", "--sections", "session").stdout
    assert text.startswith("# Context — B-2001: better help\n")
    bare = make_git_repo(tmp_path / "bare", branch="B-5")
    assert run_cli(bare, "start").returncode == 0
    assert run_cli(bare, "context", "--sections", "session").stdout.startswith("# Context — B-5\n")
