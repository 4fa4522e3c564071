"""Every secret shape, on every surface: the store file, the worklog, the summary, the
context packet (JSON and Markdown), search hits, pushes and the log."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from scribe_ls.redact import REDACTED, SHAPES, redact

from .conftest import git, make_git_repo, run_cli
from .rawrpc import RawPeer

pytestmark = pytest.mark.timeout(60)

# (shape, a line holding it, the part that must never appear again)
SAMPLES = [
    ("private-key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAsecretbody\n-----END RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEAsecretbody"),
    ("private-key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGpgpsecretbody\n-----END PGP PRIVATE KEY BLOCK-----", "lQOYBGpgpsecretbody"),
    ("authorization-header", "curl -H 'Authorization: Basic dXNlcjpodW50ZXIy' api", "dXNlcjpodW50ZXIy"),
    ("bearer-token", "sent Bearer abcDEF123456789.tokenpart", "abcDEF123456789.tokenpart"),
    ("url-credentials", "git clone https://alice:pa55w0rdX@example.com/r.git", "pa55w0rdX"),
    ("secret-assignment", "aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"),
    ("secret-assignment", "export DB_PASSWORD=hunter2hunter2", "hunter2hunter2"),
    ("secret-assignment", 'config {"password": "correct-horse-battery"}', "correct-horse-battery"),
    ("secret-assignment", "password=plainpass123", "plainpass123"),
    ("jwt", "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlc2VjcmV0", "eyJzdWIiOiIxMjM0In0"),
    ("slack-webhook", "hook https://hooks.slack.com/services/T0001/B0002/abcdefSECRETxyz", "abcdefSECRETxyz"),
    ("slack-token", "bot xoxb-123456789012-abcdefSECRETtok", "xoxb-123456789012-abcdefSECRETtok"),
    ("slack-token", "app xapp-1-A0123456789-1234567890-abcdefSECRET", "xapp-1-A0123456789-1234567890-abcdefSECRET"),
    ("github-token", "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("gitlab-token", "gl glpat-abcdefghij0123456789xyz", "glpat-abcdefghij0123456789xyz"),
    ("aws-access-key-id", "id AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
    ("stripe-key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("google-api-key", "maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    ("openai-key", "llm sk-proj-abcdefghijklmnopqrstuvwx", "sk-proj-abcdefghijklmnopqrstuvwx"),
    ("npm-token", "npm npm_abcdefghijklmnopqrstuvwxyz0123456789", "npm_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("pypi-token", "pypi pypi-AgEIcHlwaS5vcmcabcdefghijklmnopqrstuvwxyz0123456789ABCD", "cHlwaS5vcmcabcdefghijklmnop"),
]  # fmt: skip
IDS = [f"{shape}-{index}" for index, (shape, _, _) in enumerate(SAMPLES)]
SURFACES = ["store", "worklog", "summary", "packet-json", "packet-markdown", "search", "pushes", "log"]


def test_every_shape_in_the_table_has_a_sample_and_a_line_in_the_readme() -> None:
    assert {shape.name for shape in SHAPES} == {name for name, _, _ in SAMPLES}
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for shape in SHAPES:
        assert f"| `{shape.name}` | {shape.description} |" in readme


@pytest.mark.parametrize(("shape", "line", "secret"), SAMPLES, ids=IDS)
def test_each_sample_is_redacted_as_its_shape(shape: str, line: str, secret: str) -> None:
    from scribe_ls.redact import findings

    assert secret not in redact(line) and REDACTED in redact(line)
    assert shape in {f.shape for f in findings(line)}


@pytest.mark.parametrize(
    "text",
    [
        "the key decision: keep sqlite",
        "tokens of appreciation",
        "see https://example.com/a@b",
        "pass the salt",
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
        "DB_PASSWORD=hunter2hunter2\n" + "\n".join(line for _, line, _ in SAMPLES) + "\n"
    )

    async def collect() -> dict[str, str]:
        peer = await RawPeer.start(repo)
        try:
            await peer.request(2, "scribe/startSession", {})
            for index, (_, line, _) in enumerate(SAMPLES):
                answer = await peer.request(
                    10 + index, "scribe/appendEntry", {"text": f"sample{index} {line}", "kind": "decision"}
                )
                assert "result" in answer, answer
            search = []
            for index in range(len(SAMPLES)):
                search.append(
                    (await peer.request(100 + index, "scribe/search", {"query": f"sample{index}"}))["result"]
                )
            packet = (await peer.request(200, "scribe/getContext", {"maxChars": 1_000_000}))["result"]
            markdown = (
                await peer.request(201, "scribe/getContext", {"maxChars": 1_000_000, "format": "markdown"})
            )["result"]
            summary = (await peer.request(202, "scribe/summarize", {}))["result"]
            await peer.request(203, "scribe/status", {})
        finally:
            await peer.close()
        scribe = repo / ".scribe"
        store = b"".join(p.read_bytes() for p in scribe.glob("scribe.db*"))
        return {
            "store": store.decode("utf-8", "replace"),
            "worklog": (scribe / "worklogs" / "B-4242.md").read_text(),
            "summary": summary["markdown"] + (scribe / "summaries" / "B-4242-summary.md").read_text(),
            "packet-json": json.dumps(packet),
            "packet-markdown": markdown["markdown"],
            "search": json.dumps(search),
            "pushes": json.dumps(peer.notifications),
            "log": (scribe / "scribe.log").read_text() + peer.stderr_text(),
        }

    return asyncio.run(collect())


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize(("shape", "line", "secret"), SAMPLES, ids=IDS)
def test_no_secret_reaches_any_surface(
    surfaces: dict[str, str], surface: str, shape: str, line: str, secret: str
) -> None:
    assert secret not in surfaces[surface]


@pytest.mark.parametrize("surface", ["packet-json", "packet-markdown"])
def test_diffs_and_commit_subjects_are_redacted_in_packets(surfaces: dict[str, str], surface: str) -> None:
    text = surfaces[surface]
    assert "settings.env" in text  # the diff is there
    assert "hunter2hunter2" not in text and "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text


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
        await asyncio.sleep(0.5)
        await peer.request(
            4, "scribe/updateSession", {"sessionId": session["id"], "addTags": ["secret=zzzyyyxxx"]}
        )
        listed = (await peer.request(5, "scribe/listSessions", {}))["result"]
    finally:
        await peer.close()
    seen = (
        json.dumps([session, listed, peer.notifications])
        + (repo / ".scribe" / "worklogs" / "B-7.md").read_text()
    )
    seen += b"".join(p.read_bytes() for p in (repo / ".scribe").glob("scribe.db*")).decode("utf-8", "replace")
    for secret in (
        "hunter2hunter2",
        "abcdef123456",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "sk_live_4eC39",
        "zzzyyyxxx",
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
    assert lines[1].startswith(f"{notes}:3: aws-access-key-id: ")
    clean = run_cli(tmp_path, "redact", "--check", "-", stdin="nothing to see\n")
    assert clean.returncode == 0 and "no secrets" in clean.stdout
    as_json = json.loads(run_cli(tmp_path, "redact", "--check", str(notes), "--json").stdout)
    assert [f["shape"] for f in as_json["findings"]] == ["secret-assignment", "aws-access-key-id"]
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
