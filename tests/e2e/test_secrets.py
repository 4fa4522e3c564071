"""Every secret rule, on every surface: the store file, the worklog, the summary, the
context packet (JSON and Markdown), search hits, pushes, the log, MCP's tools, resources and
prompt, and the dashboard's WebSocket; each rule's own example, and the shapes found leaking
from real configuration files (JSON, YAML, .env, .netrc, connection strings, kubeconfig,
Docker's config)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from scribe_ls.redact import REDACTED, RULES, findings, redact, rules_markdown

from .helpers import Dashboard, git, make_git_repo, run_cli
from .rawrpc import RawPeer
from .test_mcp import agent, packet_json, packet_text, structured

pytestmark = pytest.mark.timeout(120)


def _secret_of(text: str, name: str) -> str:
    """What the rule ``name`` must remove from ``text``: its secret group, or all it matched."""
    match = next(r for r in RULES if r.name == name).pattern.search(text)
    assert match is not None, f"{name} does not match {text!r}"
    return match.group("secret") if "secret" in match.re.groupindex else match.group(0)


# (rule, a text holding it, the part that must never appear again): each rule's example.
SAMPLES = [(rule.name, rule.example, _secret_of(rule.example, rule.name)) for rule in RULES]
# Written as they are in real files: the shapes that leaked before, and secrets inside the
# formats people paste (each found by the rule named).
REAL_WORLD = [
    ("huggingface-access-token", "model = load(token='hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh')", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"),
    ("azure-storage-key", "conn: DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy==;EndpointSuffix=core.windows.net", "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy"),
    ("sendgrid-api-token", "mail through SG.aBcDeFgHiJkLmNoPqRsTuV.aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgHiJkLmNoPqRs now", "aBcDeFgHiJkLmNoPqRsTuVwXyZaBcDeFgHiJkLmNoPqRs"),
    ("twilio-api-key", "client = Client('SK0123456789abcdef0123456789abcdef', secret)", "SK0123456789abcdef0123456789abcdef"),
    ("url-credentials", "https://AC0123456789abcdef0123456789abcdef:f00dfacef00dface@api.twilio.com/2010-04-01", "f00dfacef00dface"),
    ("discord-webhook-url", "notify https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIjKlMnOpQrStUvWxYz01 on deploy", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdEfGhIjKlMnOpQrStUvWxYz01"),
    ("docker-config-auth", '{"auths": {"https://index.docker.io/v1/": {"auth": "ZGV2OmRvY2tlcmh1YnBhc3N3b3Jk"}}}', "ZGV2OmRvY2tlcmh1YnBhc3N3b3Jk"),
    ("kubernetes-client-key", "users:\n- name: admin\n  user:\n    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUxrdWJl", "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1IY0NBUUVFSUxrdWJl"),
    ("netrc-password", "machine github.com login alice password n3trcPassw0rdOnly", "n3trcPassw0rdOnly"),
    ("mysql-password-flag", "mysql -uroot -pMyR00tPassw0rd -h db shop < dump.sql", "MyR00tPassw0rd"),
    ("telegram-bot-api-token", "curl api.telegram.org/bot5123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0/getMe", "5123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"),
    ("digitalocean-token", "doctl auth init -t dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("shopify-token", "X-Shopify-Access-Token: shpat_0123456789abcdef0123456789abcdef", "shpat_0123456789abcdef0123456789abcdef"),
    ("secret-assignment", '{"database": {"user": "app", "password": "js0nNestedPassw0rd"}}', "js0nNestedPassw0rd"),
    ("secret-assignment", "database:\n  password: yamlPassw0rdValue\n", "yamlPassw0rdValue"),
    ("secret-assignment", "STRIPE_SECRET=envFileSecretValue1\n", "envFileSecretValue1"),
    ("secret-assignment", "Server=db;Database=shop;User Id=sa;Password=Sq1Serv3rPassw0rd;", "Sq1Serv3rPassw0rd"),
    ("url-credentials", "DATABASE_URL=postgres://app:pgConnPassw0rd@db:5432/shop", "pgConnPassw0rd"),
]  # fmt: skip
ALL = SAMPLES + REAL_WORLD
IDS = [f"{name}-{index}" for index, (name, _, _) in enumerate(ALL)]
SURFACES = [
    "store", "worklog", "summary", "packet-json", "packet-markdown", "search", "pushes", "log",
    "mcp-tools", "mcp-resources", "mcp-prompt", "dashboard",
]  # fmt: skip


def test_the_rule_table_in_the_docs_is_the_rule_set() -> None:
    text = (Path(__file__).parents[2] / "docs" / "secrets.md").read_text()
    begin = text.index("<!-- rules:begin")
    generated = text[text.index("-->", begin) + 3 : text.index("<!-- rules:end -->")].strip("\n") + "\n"
    assert generated == rules_markdown(), "run: python -m scribe_ls.redact, and paste it between the markers"
    assert len({rule.name for rule in RULES}) == len(RULES)


@pytest.mark.parametrize(("name", "line", "secret"), ALL, ids=IDS)
def test_each_rule_finds_and_redacts_its_secret(name: str, line: str, secret: str) -> None:
    assert len(secret) >= 8
    assert name in {finding.shape for finding in findings(line)}
    redacted = redact(line)
    assert secret not in redacted and REDACTED in redacted
    assert redact(redacted) == redacted  # stable: nothing left to find


@pytest.mark.parametrize(
    "text",
    [
        "the key decision: keep sqlite",
        "tokens of appreciation",
        "see https://example.com/a@b",
        "pass the salt",
        "task: fix the disk path of the api-server",
        "keyboard: press the key-up handler",
        "mysql -h db -u app shop",
        "the password reset flow sends a link",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.fixture(scope="module")
def surfaces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    repo = make_git_repo(tmp_path_factory.mktemp("secrets") / "repo")
    # A commit whose subject and diff carry secrets, and uncommitted changes that do too.
    (repo / "settings.env").write_text("DB_PASSWORD=hunter2hunter2\n")
    git(repo, "add", "settings.env")
    git(repo, "commit", "-q", "-m", "config with token=ghp_abcdefghijklmnopqrstuvwxyz0123456789")
    (repo / "settings.env").write_text(
        "DB_PASSWORD=hunter2hunter2\n" + "\n".join(line for _, line, _ in ALL) + "\n"
    )
    # File names that hold the secrets (where a name can: no slash, no line break).
    for index, (_, line, _) in enumerate(ALL):
        if "/" not in line and "\n" not in line and len(line.encode()) < 200:
            (repo / f"n{index} {line}.txt").write_text("x\n")

    async def collect() -> dict[str, str]:
        peer = await RawPeer.start(repo)
        try:
            await peer.request(2, "scribe/startSession", {})
            for index, (_, line, _) in enumerate(ALL):
                kind = ("decision", "todo", "note", "idea")[index % 4]
                answer = await peer.request(
                    10 + index, "scribe/appendEntry", {"text": f"sample{index} {line}", "kind": kind}
                )
                assert "result" in answer, answer
            search = [
                (await peer.request(1000 + index, "scribe/search", {"query": f"sample{index}"}))["result"]
                for index in range(len(ALL))
            ]
            packet = (await peer.request(2000, "scribe/getContext", {"maxChars": 1_000_000}))["result"]
            markdown = (
                await peer.request(2001, "scribe/getContext", {"maxChars": 1_000_000, "format": "markdown"})
            )["result"]
            summary = (await peer.request(2002, "scribe/summarize", {}))["result"]
            resume = (await peer.request(2003, "scribe/resume", {}))["result"]
            await peer.request(2004, "scribe/status", {})
        finally:
            await peer.close()
        async with agent(repo) as client:
            tools = [
                packet_text(await client.call_tool("scribe_context", {"max_chars": 1_000_000})),
                packet_json(
                    await client.call_tool("scribe_context", {"max_chars": 1_000_000, "format": "json"})
                ),
                structured(await client.call_tool("scribe_resume", {})),
                structured(await client.call_tool("scribe_summarize", {})),
                *[
                    structured(await client.call_tool("scribe_search", {"query": f"sample{i}"}))
                    for i in range(len(ALL))
                ],
            ]
            resources = [
                (await client.read_resource(uri)).contents[0].text
                for uri in ("scribe://context", "scribe://sessions", "scribe://worklog/B-4242")
            ]
            prompt = await client.get_prompt("resume", {})
        dashboard = Dashboard(repo)
        try:
            answers = await asyncio.to_thread(
                dashboard.rpc,
                ("scribe/getContext", {"maxChars": 1_000_000, "format": "markdown"}),
                ("scribe/getEntries", {"limit": 1000}),
                *[("scribe/search", {"query": f"sample{i}"}) for i in range(0, len(ALL), 7)],
            )
        finally:
            dashboard.stop()
        scribe = repo / ".scribe"
        store = b"".join(p.read_bytes() for p in scribe.glob("scribe.db*"))
        return {
            "store": store.decode("utf-8", "replace"),
            "worklog": (scribe / "worklogs" / "B-4242.md").read_text(),
            "summary": summary["markdown"] + (scribe / "summaries" / "B-4242-summary.md").read_text(),
            "packet-json": json.dumps(packet) + json.dumps(resume),
            "packet-markdown": markdown["markdown"] + resume["markdown"],
            "search": json.dumps(search),
            "pushes": json.dumps(peer.notifications),
            "log": (scribe / "scribe.log").read_text() + peer.stderr_text(),
            "mcp-tools": json.dumps(tools),
            "mcp-resources": "\n".join(resources),
            "mcp-prompt": json.dumps([m.model_dump(mode="json") for m in prompt.messages]),
            "dashboard": json.dumps(answers),
        }

    return asyncio.run(collect())


def test_the_surfaces_hold_what_they_should(surfaces: dict[str, str]) -> None:
    """The test below looks where the samples are: every surface shows them (redacted)."""
    assert len(re.findall(r"sample\d+", surfaces["worklog"])) >= len(ALL)
    for surface in ("packet-markdown", "mcp-resources", "dashboard", "packet-json", "mcp-tools"):
        assert "settings.env" in surfaces[surface] and REDACTED in surfaces[surface], surface
    assert REDACTED in surfaces["mcp-prompt"] and REDACTED in surfaces["search"]
    # The files named after the samples are in the packets (git's file list, the diff's).
    assert len(set(re.findall(r'"path": "n(\d+) ', surfaces["packet-json"]))) > 100


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(("name", "line", "secret"), ALL, ids=IDS)
def test_no_secret_reaches_any_surface(
    surfaces: dict[str, str], surface: str, name: str, line: str, secret: str
) -> None:
    text = surfaces[surface]
    assert secret not in text
    # JSON escapes what a secret may hold (quotes, backslashes): look for that form too.
    assert json.dumps(secret)[1:-1] not in text


@pytest.mark.parametrize("surface", ["packet-json", "packet-markdown"])
def test_diffs_and_commit_subjects_are_redacted_in_packets(surfaces: dict[str, str], surface: str) -> None:
    text = surfaces[surface]
    assert "settings.env" in text  # the diff is there
    assert "hunter2hunter2" not in text and "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text


async def test_every_rule_in_a_title_a_tag_and_a_file_of_an_entry(tmp_path: Path) -> None:
    """Each rule's example as a session title, a tag and an entry's file (where it fits on
    one line): none of them reaches the store, the worklog or an answer."""
    from scribe_ls.core.service import Scribe

    repo = make_git_repo(tmp_path / "repo")
    fits = [(line, secret) for _, line, secret in ALL if "\n" not in line and len(line) <= 200]
    answers = []
    async with Scribe(repo) as scribe:
        for index, (line, _) in enumerate(fits):
            tags = [line, "x"] if len(line) <= 64 else ["x"]  # a tag is at most 64 characters
            session = await scribe.start_session(backlog_id=f"B-{index + 1}", title=line, tags=tags)
            entry = await scribe.append_entry(f"n{index}", session_id=session.id, files=[line])
            answers += [session.to_wire(), entry.to_wire()]
            await scribe.stop_session(session.id)
        answers += [s.to_wire() for s in await scribe.list_sessions(limit=1000)]
    stored = b"".join(p.read_bytes() for p in (repo / ".scribe").glob("scribe.db*"))
    seen = json.dumps(answers) + stored.decode("utf-8", "replace")
    seen += "".join(p.read_text() for p in (repo / ".scribe" / "worklogs").glob("*.md"))
    assert len(fits) > 100
    for line, secret in fits:
        assert secret not in seen, line


async def test_titles_tags_files_and_branches_are_redacted(tmp_path: Path) -> None:
    repo = make_git_repo(
        tmp_path / "repo", branch="feature/B-7-token=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    )
    peer = await RawPeer.start(repo)
    try:
        session = (
            await peer.request(
                2,
                "scribe/startSession",
                {"title": "deploy with password=hunter2hunter2", "tags": ["api_key=abcdef123456"]},
            )
        )["result"]
        await peer.request(
            3, "scribe/appendEntry", {"text": "n", "files": ["conf/password=hunter2hunter2.txt"]}
        )
        (repo / "token=sk_live_4eC39HqLyjWDarjtT1zdp7dc.txt").write_text("x")
        (repo / "AKIAIOSFODNN7EXAMPLE.txt").write_text("a key id in a file's name\n")
        await asyncio.sleep(0.5)
        await peer.request(
            4, "scribe/updateSession", {"sessionId": session["id"], "addTags": ["secret=zzzyyyxxx"]}
        )
        listed = (await peer.request(5, "scribe/listSessions", {}))["result"]
        summary = (await peer.request(6, "scribe/summarize", {}))["result"]
        resume = (await peer.request(7, "scribe/resume", {}))["result"]
    finally:
        await peer.close()
    written = (repo / ".scribe" / "summaries" / "B-7-summary.md").read_text()
    assert "AKIA" not in written and f"{REDACTED}.txt" in written  # the uncommitted file, named
    seen = (
        json.dumps([session, listed, peer.notifications, summary, resume])
        + (repo / ".scribe" / "worklogs" / "B-7.md").read_text()
        + written
    )
    seen += b"".join(p.read_bytes() for p in (repo / ".scribe").glob("scribe.db*")).decode("utf-8", "replace")
    for secret in (
        "hunter2hunter2",
        "abcdef123456",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "sk_live_4eC39",
        "zzzyyyxxx",
        "AKIAIOSFODNN7EXAMPLE",
    ):
        assert secret not in seen
    assert session["title"] == f"deploy with password={REDACTED}"


def test_redact_check_shows_what_would_be_redacted(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("fine line\nexport DB_PASSWORD=hunter2hunter2\nalso AKIAIOSFODNN7EXAMPLE\n")
    done = run_cli(tmp_path, "redact", "--check", str(notes))
    assert done.returncode == 1
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith(f"{notes}:2: secret-assignment: ") and "hunter2hunter2" not in done.stdout
    assert lines[1].startswith(f"{notes}:3: aws-access-token: ")
    clean = run_cli(tmp_path, "redact", "--check", "-", stdin="nothing to see\n")
    assert clean.returncode == 0 and "no secrets" in clean.stdout
    as_json = json.loads(run_cli(tmp_path, "redact", "--check", str(notes), "--json").stdout)
    assert [f["shape"] for f in as_json["findings"]] == ["secret-assignment", "aws-access-token"]
    # No store is made for this: it only reads the file.
    assert not (tmp_path / ".scribe").exists()


def test_redact_check_on_odd_input(tmp_path: Path) -> None:
    missing = run_cli(tmp_path, "redact", "--check", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\xff\xfe garbage \x00 password=hunter2hunter2 \x80\n")
    done = run_cli(tmp_path, "redact", "--check", str(odd))
    assert done.returncode == 1 and "secret-assignment" in done.stdout and "hunter2hunter2" not in done.stdout
    printed = run_cli(tmp_path, "redact", str(odd))
    assert printed.returncode == 0 and "hunter2hunter2" not in printed.stdout and REDACTED in printed.stdout
