"""What a person at a terminal sees on stderr from the verbs that keep running there: the
URL with its token, warnings and errors; with -v, what they log."""

from __future__ import annotations

from pathlib import Path

from .helpers import Dashboard, make_git_repo


def _rest_of_stderr(dashboard: Dashboard) -> list[str]:
    dashboard.stop()
    assert dashboard.process.stderr is not None
    return dashboard.process.stderr.read().splitlines()


def test_the_dashboard_says_its_url_with_the_token_and_nothing_per_page_load(tmp_path: Path) -> None:
    repo = make_git_repo(tmp_path / "repo")
    dashboard = Dashboard(repo)
    try:
        for _ in range(5):  # five page loads' worth of connections and requests
            dashboard.rpc(("scribe/status", {}), ("scribe/listSessions", {}))
    finally:
        rest = _rest_of_stderr(dashboard)
    assert "#token=" in dashboard.url, "the URL said is the one that opens the page"
    assert [line for line in rest if " INFO " in line] == [], rest
    assert not any("websockets" in line for line in rest), rest


def test_live_says_one_readable_line_per_event_and_what_ctrl_c_did_to_the_session(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from .helpers import configure, run_cli, wait_until

    repo = make_git_repo(tmp_path / "repo")
    configure(repo, "activity_window = 0.3\n")
    env = {**os.environ, "SCRIBE_LS_DAEMON": "0"}  # no background recorder to hand it to
    out, err = tmp_path / "live.out", tmp_path / "live.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        live = subprocess.Popen(
            [sys.executable, "-m", "scribe_ls", "live"], cwd=repo, env=env, stdout=stdout, stderr=stderr
        )
        try:
            wait_until(lambda: "Ctrl-C to stop" in out.read_text(), "live's header", 15)
            (repo / "a.py").write_text("x = 1\n")
            wait_until(lambda: "saved" in out.read_text(), "the save", 15)
            time.sleep(1.0)  # the activity entry that tallies it is written now
            assert run_cli(repo, "append", "a note from elsewhere").returncode == 0
            wait_until(lambda: "a note from elsewhere" in out.read_text(), "the note", 15)
        finally:
            live.send_signal(signal.SIGINT)
            live.wait(15)
    lines = out.read_text().splitlines()[2:]  # after the header
    assert [line.split()[1] for line in lines] == ["session", "saved", "note"], lines
    assert lines[0].endswith("B-4242 started (active, branch feature/B-4242-x)")
    assert not any("{" in line for line in lines), "no raw JSON"
    assert "B-4242 paused: nothing records it now" in err.read_text()
    assert "paused" in run_cli(repo, "status").stdout
