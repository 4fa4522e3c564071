"""The background recorder, with no editor and no `live`: `scribe-ls start` hands the
root to a daemon that records it until its last session stops."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import configure, git
from .helpers import wait_until as _wait_until

pytestmark = pytest.mark.timeout(90)


def wait_until(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    return _wait_until(check, what, timeout)  # the daemon starts a process first: a longer wait


class User:
    """One user's environment: their own runtime and state directories, daemon on."""

    def __init__(self, home: Path) -> None:
        runtime = home / "run"
        runtime.mkdir(mode=0o700, parents=True)
        self.env = {
            **os.environ,
            "SCRIBE_LS_DAEMON": "1",
            "XDG_RUNTIME_DIR": str(runtime),
            "XDG_STATE_HOME": str(home / "state"),
        }
        self.runtime = runtime / "scribe-ls"
        self.log = home / "state" / "scribe-ls" / "daemon.log"

    def cli(self, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scribe_ls", *args], cwd=repo, env=self.env,
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    def json(self, repo: Path, *args: str) -> Any:
        done = self.cli(repo, *args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def status(self, repo: Path) -> dict[str, Any] | None:
        done = self.cli(repo, "daemon", "status", "--json")
        return json.loads(done.stdout) if done.returncode == 0 else None

    def recording(self, repo: Path) -> dict[str, Any] | None:
        """The daemon's status once it records ``repo`` (holds its lease)."""
        status = self.status(repo)
        roots = {r["root"]: r for r in (status or {}).get("roots", [])}
        root = roots.get(str(repo))
        return status if root and root["watcher"]["recorder"] and root["watcher"]["running"] else None


@pytest.fixture
def user(tmp_path: Path) -> Iterator[User]:
    person = User(tmp_path / "home")
    yield person
    status = person.status(tmp_path)
    person.cli(tmp_path, "daemon", "stop")
    if status:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(status["pid"], 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(status["pid"], signal.SIGKILL)


def entries(user: User, repo: Path, kind: str) -> list[dict[str, Any]]:
    found = []
    for session in user.json(repo, "list")["sessions"]:
        info = user.json(repo, "info", session["id"], "--entries", "200")
        found += [e for e in info["recentEntries"] if e["kind"] == kind]
    return found


def test_start_records_in_the_background_until_the_last_session_stops(user: User, repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    started = user.cli(repo, "start")
    assert started.returncode == 0, started.stderr
    assert "recording in the background" in started.stderr
    status = wait_until(lambda: user.recording(repo), "the daemon recording the repo")
    assert status["maxRoots"] == 16 and status["rssBytes"] > 0 and status["openFiles"] > 0

    # Edits, a commit and a branch switch, with nothing else running.
    def saved() -> list[dict[str, Any]]:
        (repo / "edited.py").write_text(f"x = {time.monotonic()}\n")
        return [e for e in entries(user, repo, "activity") if "edited.py" in e["files"]]

    wait_until(saved, "an activity entry for edited.py")
    git(repo, "add", "edited.py")
    git(repo, "commit", "-q", "-m", "Record without an editor")
    commit = wait_until(lambda: entries(user, repo, "commit"), "the commit entry")
    assert commit[0]["text"].endswith(" Record without an editor")
    git(repo, "checkout", "-q", "-b", "feature/B-5555-next")
    wait_until(
        lambda: (
            {s["backlogId"]: s["status"] for s in user.json(repo, "list")["sessions"]}
            == {"B-4242": "paused", "B-5555": "active"}
        ),
        "the switch applied by the daemon",
    )
    worklog = (repo / ".scribe/worklogs/B-4242.md").read_text()
    assert "Session paused; switched to B-5555" in worklog and "Changes: " in worklog

    # Stopping one session leaves the other open: still recorded. The last one: let go.
    assert user.cli(repo, "stop").returncode == 0
    assert user.recording(repo)
    events_before = user.status(repo)["events"]  # type: ignore[index]
    assert events_before > 0
    assert user.cli(repo, "stop", "B-4242").returncode == 0
    wait_until(lambda: (s := user.status(repo)) is not None and s["roots"] == [], "the root let go")
    assert user.log.is_file()
    # The events recorded so far stay counted: the rate is never negative.
    let_go = user.status(repo)
    assert let_go is not None and let_go["events"] >= events_before and let_go["eventsPerSecond"] >= 0
    shown = user.cli(repo, "daemon", "status").stdout
    assert " -" not in shown.split("events/s")[0].rsplit("·", 1)[-1], shown


def test_a_killed_daemon_is_replaced_and_nothing_acknowledged_is_lost(user: User, repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    user.cli(repo, "start")
    first = wait_until(lambda: user.recording(repo), "the daemon recording")
    note = user.json(repo, "append", "acknowledged before the kill")
    os.kill(first["pid"], signal.SIGKILL)
    wait_until(lambda: user.status(repo) is None, "the daemon gone")
    again = user.cli(repo, "start")
    assert again.returncode == 0 and again.stdout.startswith("rejoined: ● B-4242"), again.stdout
    second = wait_until(lambda: user.recording(repo), "a new daemon recording")
    assert second["pid"] != first["pid"]

    def saved() -> bool:
        (repo / "after.py").write_text(f"x = {time.monotonic()}\n")
        return any("after.py" in e["files"] for e in entries(user, repo, "activity"))

    wait_until(saved, "activity recorded by the new daemon")
    texts = [e["text"] for e in entries(user, repo, "note")]
    assert texts.count("acknowledged before the kill") == 1 and note["id"] > 0


def test_one_daemon_per_user_private_socket_and_idle_exit(user: User, repo: Path, tmp_path: Path) -> None:
    # This one never idles out: the second start below must meet it still running, however
    # slowly the machine starts processes.
    daemon = subprocess.Popen(
        [sys.executable, "-m", "scribe_ls", "daemon", "run", "--idle-exit", "0", "--quiet"],
        env=user.env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_until(lambda: user.status(repo), "the daemon listening")
        assert os.stat(user.runtime).st_mode & 0o777 == 0o700
        assert os.stat(user.runtime / "daemon.sock").st_mode & 0o777 == 0o600
        second = user.cli(repo, "daemon", "run", "--idle-exit", "1")
        assert second.returncode == 1 and "already running (pid " in second.stderr
        assert user.cli(repo, "daemon", "stop").returncode == 0
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
    # No roots for a second: a daemon exits by itself, cleanly, socket removed.
    idle = subprocess.Popen(
        [sys.executable, "-m", "scribe_ls", "daemon", "run", "--idle-exit", "1", "--quiet"],
        env=user.env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert idle.wait(timeout=30) == 0
        assert not (user.runtime / "daemon.sock").exists()
    finally:
        if idle.poll() is None:
            idle.kill()
    stopped = user.cli(repo, "daemon", "stop")
    assert stopped.returncode == 0 and "no daemon is running" in stopped.stdout
    missing = user.cli(repo, "daemon", "status")
    assert missing.returncode == 1 and "no daemon is running" in missing.stderr


def test_an_editor_server_on_a_recorded_root_relays(
    user: User, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from scribe_ls.rpc.client import ScribeClient

    user.cli(repo, "start")
    wait_until(lambda: user.recording(repo), "the daemon recording")

    async def editor() -> dict[str, Any]:
        client = await ScribeClient.spawn(repo)
        try:
            return await client.request("scribe/status")
        finally:
            await client.close()

    for name in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, user.env[name])
    status = asyncio.run(editor())
    assert status["watcher"]["recorder"] is False  # the daemon records; the editor relays
    assert status["currentSession"]["backlogId"] == "B-4242"


def test_the_python_api_hands_the_root_to_the_daemon(user: User, repo: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from scribe_ls import Scribe\n"
        "async def main():\n"
        "    async with Scribe(sys.argv[1]) as s:\n"
        "        await s.start_session()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(repo)], env=user.env, timeout=30, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    wait_until(lambda: user.recording(repo), "the daemon recording the API's root")


def test_the_root_limit_is_said_and_the_session_still_starts(user: User, repo_factory) -> None:
    first, second = repo_factory("one"), repo_factory("two")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "scribe_ls", "daemon", "run", "--max-roots", "1", "--quiet"], env=user.env
    )
    try:
        wait_until(lambda: user.status(first), "the daemon listening")
        assert user.cli(first, "start").returncode == 0
        wait_until(lambda: user.recording(first), "the first root recorded")
        refused = user.cli(second, "start")
        assert refused.returncode == 0 and refused.stdout.startswith("started: ")
        assert "not recording in the background: already recording 1 roots" in refused.stderr
        assert [r["root"] for r in user.status(first)["roots"]] == [str(first)]
    finally:
        user.cli(first, "daemon", "stop")
        daemon.wait(timeout=15)


def test_service_files_for_systemd_and_launchd(user: User, tmp_path: Path) -> None:
    import plistlib
    import shutil

    env = {**user.env, "XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "scribe_ls", "daemon", *args], env=env, capture_output=True, text=True,
            timeout=30, cwd=tmp_path,
        )  # fmt: skip

    unit = tmp_path / "config" / "systemd" / "user" / "scribe-ls.service"
    done = cli("install", "--platform", "linux")
    assert done.returncode == 0 and "systemctl --user enable --now scribe-ls.service" in done.stdout
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m scribe_ls daemon run --idle-exit 0 --quiet\n" in text
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        assert verified.returncode == 0, verified.stderr
    removed = cli("uninstall", "--platform", "linux")
    assert removed.returncode == 0 and not unit.exists()
    # What it says comes after the removal: a command that still works without the file.
    assert "if it was running, stop it with: systemctl --user stop scribe-ls.service" in removed.stdout
    assert "disable" not in removed.stdout
    assert "nothing to remove" in cli("uninstall", "--platform", "linux").stdout

    plist = tmp_path / "home" / "Library" / "LaunchAgents" / "dev.scribe-ls.daemon.plist"
    assert cli("install", "--platform", "macos").returncode == 0
    agent = plistlib.loads(plist.read_bytes())
    assert agent["Label"] == "dev.scribe-ls.daemon" and agent["RunAtLoad"] is True
    assert agent["ProgramArguments"] == [
        sys.executable,
        "-m",
        "scribe_ls",
        "daemon",
        "run",
        "--idle-exit",
        "0",
        "--quiet",
    ]
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    # Never written through a link planted where the file goes.
    plist.unlink()
    plist.symlink_to(tmp_path / "elsewhere")
    refused = cli("install", "--platform", "macos")
    assert refused.returncode == 1 and "symbolic link" in refused.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_idle_exit_zero_means_never(user: User, repo: Path) -> None:
    daemon = subprocess.Popen(
        [sys.executable, "-m", "scribe_ls", "daemon", "run", "--idle-exit", "0", "--quiet"], env=user.env
    )
    try:
        wait_until(lambda: user.status(repo), "the daemon listening")
        time.sleep(1.5)  # past a whole idle check without roots
        assert daemon.poll() is None and user.status(repo)["idleExitSeconds"] == 0
        assert user.cli(repo, "daemon", "stop").returncode == 0
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()


def test_the_daemons_metrics_in_its_status_and_the_cli(user: User, repo: Path) -> None:
    configure(repo, "activity_window = 0.2\n")
    user.cli(repo, "start")
    wait_until(lambda: user.recording(repo), "the daemon recording")

    def pushed() -> dict[str, Any] | None:
        (repo / "measured.py").write_text(f"x = {time.monotonic()}\n")
        status = user.status(repo)
        return status if status and status["metrics"]["saveToPush"]["count"] else None

    status = wait_until(pushed, "a save measured by the daemon")
    assert status["metrics"]["storeCommit"]["count"] >= 1
    shown = user.cli(repo, "status", "--metrics")
    assert shown.returncode == 0 and "save -> push" in shown.stdout and "store commits" in shown.stdout


def test_a_deleted_root_is_let_go(user: User, repo_factory) -> None:
    import shutil

    doomed = repo_factory("doomed")
    user.cli(doomed, "start")
    wait_until(lambda: user.recording(doomed), "the daemon recording")
    shutil.rmtree(doomed)
    elsewhere = doomed.parent
    wait_until(lambda: (s := user.status(elsewhere)) is not None and s["roots"] == [], "the root let go")


def test_a_socket_directory_another_user_could_enter_is_not_talked_to(user: User, repo: Path) -> None:
    user.runtime.mkdir(mode=0o755)  # made by someone before us, open to everyone
    os.chmod(user.runtime, 0o755)
    done = user.cli(repo, "daemon", "status")
    assert done.returncode == 1 and "not a private directory of yours" in done.stderr
    started = user.cli(repo, "start")  # the session starts; the hand-off is refused, said
    assert started.returncode == 0 and "not a private directory of yours" in started.stderr


def test_hostile_requests_on_the_daemon_socket_each_get_one_answer(user: User, repo: Path) -> None:
    import socket

    daemon = subprocess.Popen([sys.executable, "-m", "scribe_ls", "daemon", "run", "--quiet"], env=user.env)
    try:
        wait_until(lambda: user.status(repo), "the daemon listening")

        def ask(raw: bytes) -> dict[str, Any]:
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(10)
                conn.connect(str(user.runtime / "daemon.sock"))
                conn.sendall(raw)
                return json.loads(conn.makefile("rb").readline())

        for raw, says in (
            (b"\xff\xfe not json\n", "not JSON"),
            (b"[1, 2]\n", "expected a JSON object"),
            (b'{"op": "explode"}\n', "unknown operation"),
            (b'{"op": "watch", "root": "relative/path"}\n', "root: an absolute path is required"),
            (b'{"op": "watch", "root": 42}\n', "root: an absolute path is required"),
            (b'{"op": "watch", "root": "/no/such/dir"}\n', "is not a directory"),
            (b'{"op": "watch", "root": "/tmp/\\u0000x"}\n', "root: an absolute path is required"),
        ):
            answer = ask(raw)
            assert answer["ok"] is False and says in answer["error"], (raw, answer)
        # A line longer than the daemon reads is refused, and it goes on serving.
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(10)
            conn.connect(str(user.runtime / "daemon.sock"))
            with contextlib.suppress(OSError):
                conn.sendall(b"x" * (1 << 20))
        assert user.status(repo)["roots"] == [] and daemon.poll() is None
    finally:
        user.cli(repo, "daemon", "stop")
        daemon.wait(timeout=15)


def activity_paths(user: User, repo: Path) -> list[str]:
    return [path for entry in entries(user, repo, "activity") for path in entry["files"]]


def test_three_roots_at_once_a_storm_in_one_and_an_editor_relaying_on_another(
    user: User, repo_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One daemon records three roots; 10,000 new files in one do not keep the others from
    being recorded meanwhile; an editor's server on a recorded root relays, and each save
    is recorded once (how long the others wait is bench/daemon.py's to measure)."""
    import asyncio
    import threading

    from scribe_ls.rpc.client import ScribeClient

    stormy, calm, third = repo_factory("stormy"), repo_factory("calm"), repo_factory("third")
    for repo in (stormy, calm, third):
        configure(repo, "activity_window = 0.2\n")
        assert user.cli(repo, "start").returncode == 0
    status = wait_until(
        lambda: all(user.recording(r) for r in (stormy, calm, third)) and user.status(calm), "three roots"
    )
    assert sorted(r["root"] for r in status["roots"]) == sorted(str(r) for r in (stormy, calm, third))

    def storm() -> None:
        folder = stormy / "generated"
        folder.mkdir()
        for n in range(10_000):
            (folder / f"f{n}.txt").write_text("x\n")

    writer = threading.Thread(target=storm)
    writer.start()
    try:
        # While the storm runs: saves in the other two roots are recorded.
        for repo in (calm, third):

            def saved(repo: Path = repo) -> bool:
                (repo / "during.py").write_text(f"x = {time.monotonic()}\n")
                return "during.py" in activity_paths(user, repo)

            wait_until(saved, f"a save in {repo.name} recorded during the storm", timeout=30)
    finally:
        writer.join()
    wait_until(
        lambda: sum(int(e["text"].split()[1]) for e in entries(user, stormy, "activity")) >= 10_000,
        "the storm's 10,000 files counted",
        timeout=30,
    )
    assert [r["root"] for r in user.status(calm)["roots"]] != []  # the daemon lived through it

    # An editor's server on the calm root: it relays, the daemon records; one entry per save.
    async def edit_with_an_editor() -> dict[str, Any]:
        client = await ScribeClient.spawn(calm)
        try:
            status = await client.request("scribe/status")
            (calm / "with_editor.py").write_text("y = 1\n")
            await asyncio.wait_for(client.next_notification("scribe/activity"), 15)
            return status
        finally:
            await client.close()

    for name in ("XDG_RUNTIME_DIR", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, user.env[name])
    editor_status = asyncio.run(edit_with_an_editor())
    assert editor_status["watcher"]["recorder"] is False
    wait_until(lambda: "with_editor.py" in activity_paths(user, calm), "the save recorded")
    time.sleep(1.0)  # five activity windows: a second recorder would have written its own by now
    assert activity_paths(user, calm).count("with_editor.py") == 1


def test_start_says_why_nothing_records_when_the_runtime_dir_is_unusable(user: User, repo: Path) -> None:
    """An XDG_RUNTIME_DIR that is not a usable directory: no daemon can listen, and start
    says so, with what to do, instead of claiming to record."""
    blocker = Path(user.env["XDG_RUNTIME_DIR"]).parent / "not-a-dir"
    blocker.write_text("")
    user.env["XDG_RUNTIME_DIR"] = str(blocker)
    done = user.cli(repo, "start")
    assert done.returncode == 0 and done.stdout.startswith("started: ")
    assert "recording in the background (" not in done.stderr
    assert "scribe-ls: not recording in the background: " in done.stderr
    assert "set XDG_RUNTIME_DIR to a directory of yours" in done.stderr
    assert "scribe-ls live" in done.stderr
