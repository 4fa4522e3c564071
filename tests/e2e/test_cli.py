"""The ``scribe-ls`` verbs, as a user runs them: new processes in a real repo."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import configure, files_outside_scribe, git, run_cli

pytestmark = pytest.mark.timeout(60)


def ok(root: Path, *args: str, stdin: str | None = None) -> str:
    done = run_cli(root, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def as_json(root: Path, *args: str) -> dict:
    return json.loads(ok(root, *args, "--json"))


def test_legacy_verbs_end_to_end(repo: Path) -> None:
    session = as_json(repo, "start", "--title", "Fix login", "--tag", "auth", "--priority", "high")
    assert session["backlogId"] == "B-4242" and session["tags"] == ["auth"] and session["priority"] == "high"
    assert "B-4242" in ok(repo, "start")  # idempotent, human output names the item

    assert "added #" in ok(repo, "append", "first", "note")
    entry = as_json(repo, "append", "went with JWT", "--kind", "decision", "--file", "src/auth.py")
    assert entry["kind"] == "decision" and entry["files"] == ["src/auth.py"]
    piped = run_cli(repo, "append", "-", "--json", stdin="from a pipe\n")
    assert json.loads(piped.stdout)["text"] == "from a pipe"

    assert as_json(repo, "tag", "security", "backend")["tags"] == ["auth", "security", "backend"]
    assert as_json(repo, "untag", "auth")["tags"] == ["security", "backend"]

    info = as_json(repo, "info", "B-4242", "--entries", "3")
    assert [e["text"] for e in info["recentEntries"]] == ["first note", "went with JWT", "from a pipe"]
    human = ok(repo, "info")
    assert "Fix login" in human and "decision went with JWT" in human

    listed = as_json(repo, "list", "--status", "active")
    assert [s["id"] for s in listed["sessions"]] == [session["id"]]
    assert "● B-4242" in ok(repo, "list")

    status = as_json(repo, "status")
    assert status["sessions"]["active"] == 1 and status["currentSession"]["id"] == session["id"]
    assert "current:  ● B-4242" in ok(repo, "status")

    hits = as_json(repo, "search", "JWT")["hits"]
    assert [h["entry"]["text"] for h in hits] == ["went with JWT"]

    report = as_json(repo, "validate")
    assert report["ok"] is True
    # Size and fragmentation: the database's pages, its WAL, and what an entry costs.
    size = report["size"]
    assert size["bytes"] == (repo / ".scribe" / "scribe.db").stat().st_size
    assert size["entries"] >= 1 and size["bytesPerEntry"] == round(size["bytes"] / size["entries"])
    assert 0 <= size["freePercent"] < 100 and size["walBytes"] >= 0
    stopped = as_json(repo, "stop", "B-4242")
    assert stopped["status"] == "completed"
    worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
    assert "- Decision: went with JWT\n  - src/auth.py\n" in worklog and worklog.endswith(
        "- Session stopped\n"
    )
    assert files_outside_scribe(repo) == {"README.md"}


def test_call_is_one_raw_request(repo: Path) -> None:
    result = json.loads(ok(repo, "call", "scribe/startSession", '{"title": "raw"}'))
    assert result["title"] == "raw"
    status = json.loads(ok(repo, "call", "scribe/status"))
    assert status["sessions"]["active"] == 1
    bad = run_cli(repo, "call", "scribe/appendEntry", '{"text": 3}')
    assert bad.returncode == 1 and bad.stderr.strip() == "scribe-ls: text: expected a string, got number"
    assert run_cli(repo, "call", "scribe/status", "{oops").returncode == 2


@pytest.mark.parametrize(
    "args",
    [
        ("bogus",),
        ("--root", "."),  # a global option, but no verb
        ("append",),
        ("append", "x", "--kind", "rant"),
        ("append", "x", "--kind", "system"),  # the recorder's kinds are not written by hand
        ("append", "x", "--kind", "commit"),
        ("list", "--limit", "x"),
        ("serve", "--tcp", "nope"),
    ],
)
def test_bad_use_is_exit_two_with_one_line(repo: Path, args: tuple[str, ...]) -> None:
    done = run_cli(repo, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scribe-ls: ")


def test_failures_are_exit_one_and_bad_usage_exit_two(repo: Path) -> None:
    done = run_cli(repo, "append", "nowhere to go")
    assert done.returncode == 1 and "no open session for B-4242" in done.stderr
    assert run_cli(repo, "stop", "B-9").returncode == 1
    # A flag's value the verb cannot take is bad usage, as the README says: exit 2.
    done = run_cli(repo, "start", "--backlog-id", "../../x")
    assert done.returncode == 2 and done.stderr.startswith("scribe-ls: --backlog-id: ")
    for args, said in (
        (("report", "standup", "--format", "csv"), "--format: a stand-up is table, json or markdown"),
        (("report", "time", "--since", "tomorrow"), "--since: 'tomorrow' is not a day"),
        (("context", "--max-chars", "600"), "--max-chars: must be between 1000 and 1000000"),
    ):
        done = run_cli(repo, *args)
        assert done.returncode == 2 and said in done.stderr, (args, done.returncode, done.stderr)


def test_cleanup_and_validate(repo: Path) -> None:
    configure(repo, "idle_timeout = 1\n")
    session = as_json(repo, "start")
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    db.execute("UPDATE sessions SET last_activity_at = '2000-01-01T00:00:00.000Z'")
    db.commit()
    cleaned = as_json(repo, "cleanup")
    assert [s["id"] for s in cleaned["stopped"]] == [session["id"]]
    assert "no idle sessions" in ok(repo, "cleanup")

    worklog = repo / ".scribe/worklogs/B-4242.md"
    worklog.write_text("# Worklog B-4242\n\ntampered\n")
    broken = run_cli(repo, "validate")
    assert broken.returncode == 1 and "differs from the store" in broken.stdout
    assert "fixed:" in ok(repo, "validate", "--fix")
    assert "Session started" in worklog.read_text()
    assert "ok:" in ok(repo, "validate")


@pytest.mark.parametrize("verb", [("start",), ("append", "x"), ("status",), ("list",), ("info",), ("stop",)])
def test_store_verbs_run_without_an_event_loop(repo: Path, verb: tuple[str, ...]) -> None:
    """The lean path: a store verb imports neither asyncio, pygls nor watchfiles."""
    run_cli(repo, "start")
    code = (
        f"import sys; from scribe_ls.cli.main import main; code = main({list(verb)!r});"
        "print(code, sorted(m for m in ('asyncio', 'pygls', 'watchfiles', 'logging') if m in sys.modules),"
        " file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=30)
    assert done.stderr.strip().splitlines()[-1] == "0 []"


def test_cli_appends_to_the_worklog_and_a_full_render_gives_the_same_bytes(repo: Path) -> None:
    ok(repo, "start")
    worklog = repo / ".scribe" / "worklogs" / "B-4242.md"
    inode = worklog.stat().st_ino
    texts = ["plain", "two\nlines", "ends with a newline\n", "Decision-like: kept as a note", "x" * 300]
    for text in texts:
        ok(repo, "append", text)
    ok(repo, "append", "--kind", "todo", "write the docs")
    # Appended in place (an editor showing the file sees it grow), not replaced.
    assert worklog.stat().st_ino == inode
    assert worklog.read_text().endswith("- TODO: write the docs\n")
    assert "ok:" in ok(repo, "validate")  # the file is exactly what a full render gives
    # A file edited by hand is rendered again in full, not appended to.
    worklog.write_text(worklog.read_text() + "hand edit\n")
    ok(repo, "append", "after the edit")
    assert "hand edit" not in worklog.read_text()
    assert "ok:" in ok(repo, "validate")


LEGACY = Path(__file__).parents[1] / "data" / "legacy"


def test_import_legacy_worklogs_and_registry(repo: Path) -> None:
    worklogs = repo / "artifacts" / "worklogs"
    worklogs.mkdir(parents=True)
    for key in ("B-093", "B-096"):
        (worklogs / f"{key}.md").write_bytes((LEGACY / f"worklogs-{key}.md").read_bytes())
    (repo / "artifacts" / "B-093-summary.md").write_bytes(
        (LEGACY / "summaries-B-093-summary.md").read_bytes()
    )
    registry = {
        "last_updated": "2025-08-22T23:49:07",
        "total_sessions": 2,
        "active_sessions": 0,
        "sessions": {
            "B-093": {
                "backlog_id": "B-093",
                "pid": 1,
                "start_time": "2025-08-22T22:07:55",
                "worklog_path": "artifacts/worklogs/B-093.md",
                "status": "completed",
                "context": {
                    "tags": ["docs"],
                    "session_type": "brainstorm",
                    "priority": "high",
                    "description": "Backlog clean-up",
                    "related_sessions": [],
                },
                "last_activity": "2025-08-22T22:38:22",
                "idle_timeout": 1800,
            },
            "B-500": {"backlog_id": "B-500", "start_time": "2025-09-01T10:00:00", "status": "active"},
            "bad": {"backlog_id": "../../etc"},
        },
    }
    (repo / "artifacts" / "session_registry.json").write_text(json.dumps(registry))

    report = as_json(repo, "import")
    assert sorted((i["backlogId"], i["entries"]) for i in report["imported"]) == [
        ("B-093", 4),
        ("B-096", 29),
        ("B-500", 0),
    ]
    # Rendered back from the store, the legacy worklogs come out byte for byte.
    for key in ("B-093", "B-096"):
        assert (repo / ".scribe/worklogs" / f"{key}.md").read_bytes() == (
            LEGACY / f"worklogs-{key}.md"
        ).read_bytes()
    b093 = as_json(repo, "list", "--backlog-id", "B-093")["sessions"][0]
    assert (b093["title"], b093["tags"], b093["type"], b093["priority"]) == (
        "Backlog clean-up",
        ["docs"],
        "brainstorm",
        "high",
    )
    assert b093["status"] == "completed" and b093["stats"]["filesChanged"] == 10
    # Its real times and branch; active 1 s (the 30 min before "Idle timeout" were idle).
    assert (b093["branch"], b093["startedAt"], b093["endedAt"]) == (
        "main",
        "2025-08-22T22:07:55.000Z",
        "2025-08-22T22:38:22.000Z",
    )
    assert b093["stats"]["activeSeconds"] == 1 and b093["idleTimeout"] == 1800
    assert as_json(repo, "import")["imported"] == []  # importing twice adds nothing
    assert "B-093" in ok(repo, "search", "Idle")
    missing = run_cli(repo, "import", "no/such/dir")
    assert (
        missing.returncode == 2
        and missing.stderr == "scribe-ls: import: no such file or directory: no/such/dir\n"
    )


async def test_live_shows_the_session_as_it_happens(repo: Path) -> None:
    import asyncio
    import signal

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scribe_ls", "live", cwd=repo, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None

    async def line_with(text: str) -> str:
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
            assert line, "live ended early"
            if text in line:
                return line

    try:
        header = await line_with("scribe-ls live:")
        assert "B-4242" in header
        assert "recording" in await line_with("branch feature/B-4242-x")
        done = await asyncio.to_thread(run_cli, repo, "append", "seen live", "--kind", "decision")
        assert done.returncode == 0
        assert "decision  seen live" in await line_with("seen live")

        async def keep_saving() -> None:  # until the watcher is armed and reports it
            for n in range(30):
                (repo / "edited.py").write_text(f"x = {n}\n")
                await asyncio.sleep(0.3)

        saver = asyncio.ensure_future(keep_saving())
        assert "edited.py" in await line_with("saved")
        saver.cancel()

        # The header follows the session: another item's branch checked out.
        git(repo, "checkout", "-q", "-b", "feature/B-5555-next")
        assert "B-5555" in await line_with("scribe-ls live:")
        assert "recording" in await line_with("branch feature/B-5555-next")
        # Entries from other processes print in the order the store committed them.
        for n in range(5):
            assert (await asyncio.to_thread(run_cli, repo, "append", f"ordered {n}")).returncode == 0
        seen = [(await line_with("ordered ")).split("ordered ")[1].strip() for _ in range(5)]
        assert seen == ["0", "1", "2", "3", "4"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


def test_commit_order_holds_an_entry_until_the_ones_before_it_came() -> None:
    import asyncio

    from scribe_ls.cli.service_verbs import CommitOrder
    from scribe_ls.core.events import Notification

    def entry(entry_id: int) -> Notification:
        return Notification("scribe/entryAdded", {"entry": {"id": entry_id}}, "")

    async def scenario() -> list[list[int]]:
        order = CommitOrder()
        ids = lambda events: [e.params["entry"]["id"] for e in events]  # noqa: E731
        steps = [ids(order.add(entry(10))), ids(order.add(entry(12))), ids(order.add(entry(11)))]
        steps.append(ids(order.add(entry(14))))
        steps.append(ids(order.overdue()))  # 13 may still come
        await asyncio.sleep(CommitOrder.HOLD + 0.05)
        steps.append(ids(order.overdue()))  # it did not: 14 goes
        return steps

    assert asyncio.run(scenario()) == [[10], [], [11, 12], [], [], [14]]


def test_a_config_change_applies_at_the_next_verb(repo: Path) -> None:
    """Settings are read from a cache while the files say the same: an edit (here of the
    same size, made at once) is seen by the very next verb."""
    configure(repo, "max_active_sessions = 2\n")
    ok(repo, "start", "--backlog-id", "B-1")
    ok(repo, "start", "--backlog-id", "B-2")
    refused = run_cli(repo, "start", "--backlog-id", "B-3")
    assert refused.returncode == 1 and "limit reached: 2 sessions" in refused.stderr
    configure(repo, "max_active_sessions = 3\n")
    ok(repo, "start", "--backlog-id", "B-3")
    (repo / ".scribe" / "config.toml").unlink()  # back to the default of 8
    ok(repo, "start", "--backlog-id", "B-4")


def test_a_config_cache_is_held_to_the_rules(repo: Path) -> None:
    """The cache is only a shortcut: a value in it that the rules refuse is not used."""
    import json

    configure(repo, "max_active_sessions = 2\n")
    ok(repo, "status")  # writes the cache
    cache_path = repo / ".scribe" / ".config.cache.json"
    cache = json.loads(cache_path.read_text())
    cache["values"]["max_active_sessions"] = -5
    cache_path.write_text(json.dumps(cache))
    ok(repo, "start", "--backlog-id", "B-1")
    ok(repo, "start", "--backlog-id", "B-2")
    assert "limit reached: 2" in run_cli(repo, "start", "--backlog-id", "B-3").stderr


def test_the_store_can_live_outside_the_checkout(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "state"
    elsewhere.mkdir()
    started = run_cli(repo, "--store", str(elsewhere), "start", "--json")
    assert started.returncode == 0, started.stderr
    assert not (repo / ".scribe").exists()
    assert (elsewhere / "scribe.db").is_file() and (elsewhere / "worklogs" / "B-4242.md").is_file()
    assert json.loads(started.stdout)["worklogPath"] == str(elsewhere / "worklogs" / "B-4242.md")
    import os

    listed = subprocess.run(
        [sys.executable, "-m", "scribe_ls", "list"], cwd=repo, capture_output=True, text=True,
        env={**os.environ, "SCRIBE_DIR": str(elsewhere)}, timeout=30,
    )  # fmt: skip
    assert "B-4242" in listed.stdout
    assert run_cli(repo, "list").returncode == 1  # without it: nothing recorded here


def test_a_repository_cannot_choose_where_the_store_is(repo: Path, tmp_path: Path) -> None:
    """A checked-out pyproject.toml naming a store elsewhere (another project's) is ignored
    and said to be: the store is .scribe/ unless the user says otherwise."""
    shared = tmp_path / "shared-store"
    shared.mkdir()
    (shared / "id_rsa").write_text("a file of the user's\n")
    (repo / "pyproject.toml").write_text('[tool.scribe]\nstore = "../shared-store"\n')
    started = run_cli(repo, "start")
    assert started.returncode == 0, started.stderr
    assert "store is not read from configuration files" in started.stderr and "$SCRIBE_DIR" in started.stderr
    assert (repo / ".scribe" / "scribe.db").is_file()
    assert sorted(p.name for p in shared.iterdir()) == ["id_rsa"]


@pytest.mark.parametrize(
    ("args", "stdin", "named"),
    [
        ((b"append", b"bad \xff text"), None, "text"),
        ((b"append", b"-"), b"bad \xff stdin", "text"),
        ((b"append", b"ok", b"--file", b"f\xff.py"), None, "--file"),
        ((b"start", b"--title", b"t\xff"), None, "--title"),
        ((b"search", b"\xff"), None, "query"),
    ],
)
def test_text_that_is_not_utf8_is_refused_naming_the_argument(
    repo: Path, args: tuple[bytes, ...], stdin: bytes | None, named: str
) -> None:
    ok(repo, "start")
    done = subprocess.run(
        [sys.executable.encode(), b"-m", b"scribe_ls", *args], cwd=repo, input=stdin or b"",
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == b""  # a value the verb cannot take: bad usage
    assert done.stderr.decode().startswith(f"scribe-ls: {named}: must be valid Unicode text")
    assert b"Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1
