"""The VS Code extension in a real VS Code (code-server's workbench in headless Chromium),
against the real server in real git repositories: what a user sees and does."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import workbench
from .helpers import git, make_git_repo, run_cli

pytestmark = [pytest.mark.timeout(240), pytest.mark.e2e]

if (why := workbench.missing()) is not None:
    pytest.skip(f"\n\n*** NO VS CODE WORKBENCH: {why} ***\n", allow_module_level=True)

SETTINGS = {
    "chat.disableAIFeatures": True,
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": False,
    "extensions.ignoreRecommendations": True,
    "git.enabled": False,  # VS Code's own git extension: not under test, and it runs git too
    "telemetry.telemetryLevel": "off",
    "scribe.serverPath": workbench.PYTHON,
    "scribe.serverArgs": ["-m", "scribe_ls", "serve"],
}


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workbench.package_extension(tmp_path_factory.mktemp("vsix"))


@pytest.fixture(scope="module")
def code_server(tmp_path_factory: pytest.TempPathFactory, vsix: Path) -> Iterator[workbench.CodeServer]:
    server = workbench.CodeServer(tmp_path_factory.mktemp("code-server"), vsix, settings=SETTINGS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    browser = workbench.chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def window(driver: Any, code_server: workbench.CodeServer) -> Iterator[workbench.Window]:
    yield workbench.Window(driver, code_server)
    driver.get("about:blank")  # the window closes: its extension host and server end


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_git_repo(tmp_path / "repo", branch="feature/B-1234-demo")
    (root / ".scribe").mkdir()
    (root / ".scribe" / "config.toml").write_text("activity_window = 0.2\ndaemon = false\n")
    return root


def entries(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / ".scribe" / "scribe.db") as db:
        return db.execute("SELECT kind, text FROM entries ORDER BY id").fetchall()


def test_a_session_started_from_the_palette_shows_in_the_status_bar(
    window: workbench.Window, repo: Path
) -> None:
    window.open(repo)
    window.status_shows("Scribe: no session")
    window.palette("Scribe: Start Session")
    window.answer_input("")  # empty: the item comes from the branch
    text = window.status_shows("B-1234")
    assert text == "B-1234 ● 0m today · 0 files changed", text
    window.notification_with("session B-1234")
    window.screenshot("session")
    # A branch switch to another item: the status bar follows.
    git(repo, "checkout", "-q", "-b", "feature/B-5678-next")
    window.status_shows("B-5678")
    # A save: the status bar counts the changed file.
    (repo / "app.py").write_text("print('hello')\n")
    window.status_shows("1 file changed")


def test_a_note_and_a_decision_from_the_palette_reach_the_store_and_the_worklog(
    window: workbench.Window, repo: Path
) -> None:
    window.open(repo)
    window.status_shows("Scribe: no session")
    window.palette("Scribe: Start Session")
    window.answer_input("")
    window.status_shows("B-1234")
    window.palette("Scribe: Add Note")
    window.answer_input("the cache key misses the locale")
    window.palette("Scribe: Add Decision")
    window.answer_input("key the cache by locale too")
    workbench.wait_for(
        lambda: (
            {("note", "the cache key misses the locale"), ("decision", "key the cache by locale too")}
            <= set(entries(repo))
        ),
        "both entries in the store",
    )
    worklog = (repo / ".scribe" / "worklogs" / "B-1234.md").read_text()
    assert "the cache key misses the locale" in worklog and "key the cache by locale too" in worklog


def test_the_output_channel_shows_the_servers_errors_as_errors_and_nothing_else(
    window: workbench.Window, repo: Path, code_server: workbench.CodeServer
) -> None:
    """The server's log reaches the Output channel at its own levels: its INFO lines as
    information, the one real error of this start (a damaged store, moved aside) as an error."""
    (repo / ".scribe" / "scribe.db").write_bytes(b"this is not a SQLite database" * 100)
    window.open(repo)
    window.status_shows("Scribe: no session")
    window.notification_with("was damaged")
    log = workbench.wait_for(lambda: (t := code_server.exthost_log()) and "attached to" in t and t, "the log")
    attached = next(line for line in log.splitlines() if "attached to" in line)
    assert "[info] scribe_ls.rpc.server" in attached, attached
    errors = [line for line in log.splitlines() if "[error]" in line]
    assert len(errors) == 1 and "was damaged" in errors[0], errors


def server_processes(code_server: workbench.CodeServer) -> list[int]:
    assert code_server.process is not None
    return [
        pid
        for pid in workbench.processes_under(code_server.process.pid)
        if "scribe_ls serve" in workbench.command_line(pid)
    ]


def test_a_crashed_server_is_said_restarted_and_the_restart_command_works(
    window: workbench.Window, repo: Path, code_server: workbench.CodeServer
) -> None:
    window.open(repo)
    window.status_shows("Scribe: no session")
    window.palette("Scribe: Start Session")
    window.answer_input("")
    window.status_shows("B-1234 ●")
    (pid,) = server_processes(code_server)
    os.kill(pid, signal.SIGKILL)
    told = window.notification_with("stopped unexpectedly")
    assert "restarted" in told, told
    # Restarted by itself, and the status bar read afresh from the new server.
    (again,) = workbench.wait_for(
        lambda: [p for p in server_processes(code_server) if p != pid], "a new server"
    )
    window.status_shows("B-1234 ●")
    window.screenshot("server-restarted")
    window.palette("Scribe: Restart Server")
    workbench.wait_for(lambda: again not in server_processes(code_server), "the server to be replaced")
    window.status_shows("B-1234 ●")
    window.palette("Scribe: Add Note")
    window.answer_input("still recording after the restarts")
    workbench.wait_for(lambda: ("note", "still recording after the restarts") in entries(repo), "the note")


def cli(root: Path, *args: str) -> str:
    """A verb's output; it must succeed (no daemon: tests/conftest.py says so for every test)."""
    done = run_cli(root, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_paused_sessions_root_offers_to_resume_it(window: workbench.Window, repo: Path) -> None:
    started = json.loads(cli(repo, "start", "--json"))
    cli(repo, "call", "scribe/updateSession", json.dumps({"sessionId": started["id"], "status": "paused"}))
    window.open(repo)
    offer = window.notification_with("B-1234")
    assert "paused" in offer, offer
    window.screenshot("resume-offer")
    window.click_notification_button("B-1234", "Resume")
    window.status_shows("B-1234 ●")
    session = json.loads(cli(repo, "info", "--json"))
    assert session["status"] == "active", session


def test_the_sessions_view_starts_pauses_resumes_and_stops(window: workbench.Window, repo: Path) -> None:
    """Start from the view's title bar, then pause, resume and stop from the item's context menu."""
    window.open(repo)
    window.status_shows("Scribe: no session")
    window.palette("Explorer: Focus on Scribe Sessions View")
    window.view_action("Scribe Sessions", "Start Session")
    window.answer_input("")
    window.status_shows("B-1234 ●")
    item = window.tree_item("B-1234")
    assert "active" in item.text
    window.screenshot("sessions-view")
    for command, status in (
        ("Pause Session", "paused"),
        ("Resume Session", "active"),
        ("Stop Session", "completed"),
    ):
        window.context_menu(window.tree_item("B-1234"), command)
        workbench.wait_for(
            lambda s=status: s in window.tree_item("B-1234").text, f"the session {status} in the view"
        )
    assert json.loads(cli(repo, "list", "--json"))["sessions"][0]["status"] == "completed"


def test_an_agent_changing_the_persons_file_is_warned_once(window: workbench.Window, repo: Path) -> None:
    """The person saves a file in VS Code's folder; then Claude Code's hook records its own
    write of it: one warning, however often it happens again."""
    window.open(repo)
    window.status_shows("Scribe: no session")
    window.palette("Scribe: Start Session")
    window.answer_input("")
    window.status_shows("B-1234")
    (repo / "notes.md").write_text("the person's notes\n")
    window.status_shows("1 file changed")
    # The person's save on the record before the agent's (else the two are one change, the agent's).
    workbench.wait_for(
        lambda: ("activity", "Changes: 1 file(s)") in entries(repo), "the person's save recorded"
    )
    for attempt in range(2):
        (repo / "notes.md").write_text(f"the agent's rewrite {attempt}\n")
        hook = run_cli(
            repo,
            "hook",
            "claude-code",
            "PostToolUse",
            stdin=json.dumps(
                {
                    "session_id": "8c35adc1-5d0e-4bd6-9a3f-0d2c6f1e2a11",
                    "hook_event_name": "PostToolUse",
                    "cwd": str(repo),
                    "tool_name": "Write",
                    "tool_input": {"file_path": str(repo / "notes.md"), "content": "x\n"},
                    "tool_response": {"success": True},
                }
            ),
            env={**os.environ, "CLAUDE_PROJECT_DIR": str(repo)},
        )
        assert hook.returncode == 0, hook.stderr
        if attempt == 0:
            told = window.notification_with("both changed notes.md", what_else=lambda: entries(repo))
            assert "claude-code" in told, told
            window.screenshot("overlap")
    time.sleep(3)  # long enough for a second warning to arrive, if one were to
    assert len([n for n in window.notifications() if "both changed" in n]) == 1


def test_a_missing_server_is_said_with_what_to_set(
    driver: Any, tmp_path_factory: pytest.TempPathFactory, vsix: Path, repo: Path
) -> None:
    server = workbench.CodeServer(
        tmp_path_factory.mktemp("code-server-missing"),
        vsix,
        settings={**SETTINGS, "scribe.serverPath": "/nonexistent/scribe-ls", "scribe.serverArgs": ["serve"]},
    )
    server.start()
    try:
        window = workbench.Window(driver, server)
        window.open(repo)
        told = window.notification_with("could not start")
        assert "scribe.serverPath" in told and "/nonexistent/scribe-ls" in told, told
        window.screenshot("missing-server")
        window.status_shows("Scribe")
    finally:
        driver.get("about:blank")
        server.stop()


def test_an_untrusted_folder_starts_nothing(
    driver: Any, tmp_path_factory: pytest.TempPathFactory, vsix: Path, repo: Path
) -> None:
    """Workspace Trust on, the folder not trusted (Restricted Mode): the extension, which
    declares it cannot work there, is not run; no scribe-ls is started, nothing written."""
    server = workbench.CodeServer(
        tmp_path_factory.mktemp("code-server-trust"), vsix, settings=SETTINGS, trust=True
    )
    server.start()
    try:
        window = workbench.Window(driver, server)
        window.open(repo)
        statusbar = driver.find_element("css selector", ".part.statusbar")
        workbench.wait_for(lambda: "Restricted Mode" in statusbar.text, "Restricted Mode")
        time.sleep(3)  # long enough for an activation that should not happen
        assert window.status_text() is None
        assert server.process is not None
        started = [
            p
            for p in workbench.processes_under(server.process.pid)
            if "scribe_ls" in workbench.command_line(p)
        ]
        assert not started
        assert not (repo / ".scribe" / "scribe.db").exists()
        assert [row for row in window.palette_offers("Scribe: ") if "Scribe:" in row] == []
        assert "Scribe Sessions" not in driver.find_element("css selector", ".part.sidebar").text
        assert "Developer: Reload Window" in "".join(window.palette_offers("Developer: Reload Window"))
        window.screenshot("restricted-mode")
        # Trusted from the Restricted Mode item: the extension starts, as it says it would.
        window.click_status_item("Restricted Mode")
        window.click_button("Trust")
        window.status_shows("Scribe: no session")
        assert any("Scribe: Start Session" in row for row in window.palette_offers("Scribe: Start"))
    finally:
        driver.get("about:blank")
        server.stop()
