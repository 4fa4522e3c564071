"""The CLI as a person at a terminal meets it: help instead of a hang, one Ctrl-C, colour
only on a terminal, quiet writes, a reader that leaves early, and errors in the CLI's own
words (flags and verbs), as text or JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import configure, run_cli
from .test_cli import as_json, ok


def test_a_reader_that_leaves_early_ends_the_verb_quietly(repo: Path) -> None:
    """`scribe-ls info | head -1`: the pipe closes under the verb; no traceback."""
    import os

    ok(repo, "start")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        done = subprocess.run(
            [sys.executable, "-m", "scribe_ls", "info"],
            cwd=repo,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and done.stderr == ""


def _on_a_terminal(repo: Path, *args: str, interrupt_after: str | None = None) -> tuple[int, str]:
    """Run scribe-ls with a pseudo-terminal as stdin (a person typing), stderr captured;
    with ``interrupt_after``, press Ctrl-C once that text is on stderr."""
    import os
    import pty
    import signal
    import time

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scribe_ls", *args], cwd=repo, stdin=terminal, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        if interrupt_after is not None:
            assert proc.stderr is not None
            seen = ""
            deadline = time.monotonic() + 20
            while interrupt_after not in seen and time.monotonic() < deadline:
                seen += proc.stderr.readline()
            time.sleep(0.3)  # the server's signal handlers are in place once it reads
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=15)
            return code, seen + proc.stderr.read()
        _, err = proc.communicate(timeout=20)
        return proc.returncode, err
    finally:
        os.close(controller)
        os.close(terminal)


def test_bare_scribe_ls_on_a_terminal_shows_help_instead_of_serving(repo: Path) -> None:
    code, err = _on_a_terminal(repo)
    assert code == 2
    assert "usage: scribe-ls" in err and "`scribe-ls serve` is for editors" in err


def test_serve_on_a_terminal_says_what_it_does_and_one_ctrl_c_ends_it(repo: Path) -> None:
    code, err = _on_a_terminal(repo, "serve", interrupt_after="Ctrl-C stops")
    assert "serving JSON-RPC on stdin/stdout for an editor; Ctrl-C stops" in err
    assert code == 130
    assert "Fatal Python error" not in err and "Traceback" not in err


def test_search_finds_word_prefixes_and_counts_read_right(repo: Path) -> None:
    ok(repo, "start")
    ok(repo, "append", "settled the colour scheme", "--file", "ui/theme.css")
    hits = as_json(repo, "search", "colo")["hits"]
    assert [h["entry"]["text"] for h in hits] == ["settled the colour scheme"]
    assert "**colour**" in hits[0]["snippet"]
    assert as_json(repo, "search", "colo(r")["hits"] == []  # taken literally, never as syntax
    assert "(3 entries, 1 file)" in ok(repo, "list")


def test_search_puts_whole_words_first_then_word_starts_each_newest_first(repo: Path) -> None:
    ok(repo, "start")
    written = ["cache warmed", "the cache key", "caches rebuilt", "cachet of the cache layer", "cached once"]
    for text in written:
        ok(repo, "append", text)
    texts = [h["entry"]["text"] for h in as_json(repo, "search", "cache")["hits"]]
    whole_words, word_starts = [written[3], written[1], written[0]], [written[4], written[2]]
    assert texts == whole_words + word_starts
    limited = as_json(repo, "search", "cache", "--limit", "4")["hits"]
    assert [h["entry"]["text"] for h in limited] == texts[:4]


def test_a_bad_setting_is_reported_by_every_verb(repo: Path) -> None:
    configure(repo, "idle_timeout = -1\n")
    for verb in ("status", "list"):
        done = run_cli(repo, verb)
        assert done.returncode == 0
        assert done.stderr == "scribe-ls: config: config.toml: idle_timeout must be at least 1; ignored\n"


@pytest.mark.parametrize(
    "verb", [("status",), ("list",), ("info",), ("search", "x"), ("validate",), ("context",)]
)
def test_questions_outside_a_recorded_root_change_nothing(tmp_path: Path, verb: tuple[str, ...]) -> None:
    done = run_cli(tmp_path, *verb)
    assert done.returncode == 1
    assert (
        done.stderr.startswith(f"scribe-ls: nothing recorded in {tmp_path} yet")
        and done.stderr.count("\n") == 1
    )
    assert list(tmp_path.iterdir()) == []  # no .scribe/ made for a question


def test_global_flags_go_before_or_after_the_verb(repo: Path) -> None:

    ok(repo, "start")
    before = json.loads(ok(repo, "--json", "list"))
    after = json.loads(ok(repo, "list", "--json"))
    assert before == after and before["sessions"][0]["backlogId"] == "B-4242"
    elsewhere = run_cli(repo.parent, "--root", str(repo), "--json", "status")
    assert json.loads(elsewhere.stdout)["root"] == str(repo)


def test_errors_in_json_mode_are_json(repo: Path) -> None:

    ok(repo, "start")
    done = run_cli(repo, "--json", "append", "   ")
    assert done.returncode == 2  # a value the verb cannot take: bad usage
    error = json.loads(done.stderr)["error"]
    assert error == {"code": -32602, "message": "text: must not be empty", "field": "text"}
    usage = run_cli(repo, "list", "--json", "--limit", "x")
    assert usage.returncode == 2 and json.loads(usage.stderr)["error"]["code"] == -32602


@pytest.mark.parametrize(
    ("args", "expected", "code"),
    [
        (("start", "--backlog-id", "B-x"), "scribe-ls: --backlog-id: ", 2),  # bad usage
        (("start", "--tag", ""), "scribe-ls: --tag: ", 2),
        (("append", "x", "--session", "s-000000000000"), "scribe-ls: --session: no session", 1),
        (("info", "s-000000000000"), "scribe-ls: target: no session", 1),  # the request failed
        (("append", "x"), "start one with `scribe-ls start` or pass --session", 1),
    ],
)
def test_errors_name_flags_and_verbs_not_wire_names(
    repo: Path, args: tuple[str, ...], expected: str, code: int
) -> None:
    run_cli(repo, "start", "--backlog-id", "B-1")  # something recorded, not the branch's item
    done = run_cli(repo, *args)
    assert done.returncode == code and expected in done.stderr, done.stderr
    for wire in ("backlogId", "sessionId", "scribe/"):
        assert wire not in done.stderr


def _stdout_on_a_terminal(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """What scribe-ls prints when its stdout is a terminal."""
    import os
    import pty

    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "scribe_ls", *args], cwd=repo, stdout=terminal, stderr=subprocess.PIPE,
            timeout=30, env={**os.environ, "TERM": "xterm", **(env or {})},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        os.close(terminal)
        terminal = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal side is closed and drained
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)


def test_colour_on_a_terminal_only_and_never_with_no_color(repo: Path) -> None:
    ok(repo, "start")
    ok(repo, "append", "settled the colour scheme")
    coloured = _stdout_on_a_terminal(repo, "search", "colo")
    assert "\x1b[1;33mcolour\x1b[0m" in coloured and "**" not in coloured
    assert "\x1b[32m● B-4242" in _stdout_on_a_terminal(repo, "list")
    for plain in (
        _stdout_on_a_terminal(repo, "search", "colo", env={"NO_COLOR": "1"}),
        _stdout_on_a_terminal(repo, "search", "colo", "--no-color"),
        ok(repo, "search", "colo"),  # piped
    ):
        assert "\x1b" not in plain and "**colour**" in plain


def test_quiet_writes_print_nothing_but_errors(repo: Path) -> None:
    for args in (("start", "--quiet"), ("-q", "append", "x"), ("tag", "t", "-q"), ("stop", "-q")):
        done = run_cli(repo, *args)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    failed = run_cli(repo, "append", "x", "-q")
    assert failed.returncode == 1 and "no open session" in failed.stderr


def test_a_root_that_is_not_there_is_said_as_such(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--root", str(tmp_path / "nonexistent"), "status")
    assert (
        done.returncode == 2
        and done.stderr == f"scribe-ls: --root: no such directory: {tmp_path / 'nonexistent'}\n"
    )


def test_import_with_nothing_to_import_fails_and_says_what_to_name(repo: Path) -> None:
    done = run_cli(repo, "import")
    assert done.returncode == 1 and "nothing to import: no artifacts/ in" in done.stderr
    assert "name the worklogs, session_registry.json or folders" in done.stderr
