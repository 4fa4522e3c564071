"""The live dashboard (`scribe-ls dashboard`) in real headless Chromium (Debian's chromium
and chromium-driver, driven by selenium), against the real server process in a real git
repository: cards, timeline, the page's own notes, search, the token page, refusals of
foreign Hosts and Origins, reconnecting, many tabs, and a screenshot."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scribe_ls.rpc.client import SyncClient

from .helpers import TOKEN, Dashboard, make_git_repo, run_cli, wait_until

pytestmark = pytest.mark.timeout(120)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
LEGACY = Path(__file__).parents[1] / "data" / "legacy"
SCREENSHOT = Path(__file__).resolve().parents[2] / "build" / "screenshots" / "dashboard.png"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(
        "\n\n*** NO BROWSER: the dashboard's tests need Debian's chromium and chromium-driver"
        " (scripts/install-browser.sh installs them; it could not here) ***\n",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402 (only with a browser)
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_git_repo(tmp_path / "repo")
    (root / ".scribe").mkdir()
    (root / ".scribe" / "config.toml").write_text("activity_window = 0.2\n")
    return root


@pytest.fixture
def dashboard(repo: Path) -> Iterator[Dashboard]:
    running = Dashboard(repo)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    # No sandbox as root; no background networking: the machine's network is closed.
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1280,1500", f"--user-data-dir={profile}",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium: webdriver.Chrome) -> Iterator[webdriver.Chrome]:
    """The module's browser, back to one tab on a blank page after each test."""
    yield chromium
    for handle in chromium.window_handles[1:]:
        chromium.switch_to.window(handle)
        chromium.close()
    chromium.switch_to.window(chromium.window_handles[0])
    chromium.get("about:blank")


def text_of(driver: webdriver.Chrome, css: str) -> str:
    try:
        return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))
    except StaleElementReferenceException:
        return ""  # re-rendered while read: the next poll sees the new one


def shows(driver: webdriver.Chrome, css: str, what: str) -> Callable[[], bool]:
    return lambda: what in text_of(driver, css)


def open_page(driver: webdriver.Chrome, url: str) -> None:
    driver.get(url)
    wait_until(
        lambda: text_of(driver, "#connection") == "live", f"the page live ({text_of(driver, '#banner')})"
    )


def started(repo: Path) -> None:
    result = run_cli(repo, "start")
    assert result.returncode == 0, result.stderr


def test_the_page_shows_the_session_live_and_its_note_reaches_the_store_and_an_editor(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    started(repo)
    open_page(browser, dashboard.url)
    wait_until(shows(browser, "article.card h3", "B-4242"), "the session's card")
    assert "active" in text_of(browser, "article.card .status")
    assert "feature/B-4242-x" in text_of(browser, ".card-branch")

    # A file saved by another program shows on the card (the bench measures how fast).
    (repo / "saved_now.py").write_text("x = 1\n")
    wait_until(shows(browser, ".card-saved", "saved_now.py"), "the saved file on the card")
    wait_until(shows(browser, ".card-files", "1 changed"), "the files count")

    # A note from the CLI appears in the timeline.
    assert run_cli(repo, "append", "a note from the terminal").returncode == 0
    wait_until(shows(browser, "#timeline", "a note from the terminal"), "the CLI note in the timeline")

    # A decision typed in the page reaches the store and a connected editor.
    with SyncClient.spawn(repo) as editor:
        editor.request("scribe/status")
        browser.find_element(By.CSS_SELECTOR, "#note-kind option[value=decision]").click()
        browser.find_element(By.ID, "note-text").send_keys("keep the dashboard read-mostly")
        browser.find_element(By.CSS_SELECTOR, "#note-form button").click()
        deadline = time.monotonic() + 10
        while True:
            params = editor.next_notification(
                "scribe/entryAdded", timeout=max(0.1, deadline - time.monotonic())
            )
            if params["entry"]["text"] == "keep the dashboard read-mostly":
                break
        assert params["entry"]["kind"] == "decision" and params["entry"]["author"] is None
    wait_until(shows(browser, "#timeline", "keep the dashboard read-mostly"), "the page's own decision")
    worklog = (repo / ".scribe" / "worklogs" / "B-4242.md").read_text()
    assert "keep the dashboard read-mostly" in worklog
    assert browser.find_element(By.ID, "note-text").get_attribute("value") == ""

    # Pause and resume from the card; the store follows.
    browser.find_element(By.XPATH, "//article[contains(@class,'card')]//button[text()='Pause']").click()
    wait_until(shows(browser, "article.card .status", "paused"), "the paused card")
    assert json.loads(run_cli(repo, "list", "--json").stdout)["sessions"][0]["status"] == "paused"
    browser.find_element(By.XPATH, "//article[contains(@class,'card')]//button[text()='Resume']").click()
    wait_until(shows(browser, "article.card .status", "active"), "the resumed card")
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_search_finds_an_imported_legacy_entry_with_its_words_marked(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    assert run_cli(repo, "import", str(LEGACY / "worklogs-B-096.md")).returncode == 0
    open_page(browser, dashboard.url)
    browser.find_element(By.ID, "search-query").send_keys("rehydrator")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait_until(shows(browser, "#search-results", "B-096"), "the imported entry found")
    marked = [m.text.lower() for m in browser.find_elements(By.CSS_SELECTOR, "#search-results mark")]
    assert marked and all("rehydrator" in m for m in marked)
    assert "1 hit for" in text_of(browser, "#search-summary")


def test_a_wrong_or_missing_token_shows_a_page_that_says_so(
    dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    browser.get(dashboard.url.replace(TOKEN, "not-the-token"))
    wait_until(lambda: browser.find_element(By.ID, "fatal").is_displayed(), "the token page")
    assert "token rejected: start with `scribe-ls dashboard`" in text_of(browser, "#fatal-text")
    assert not browser.find_element(By.ID, "app").is_displayed()
    browser.get(dashboard.url.split("#")[0])
    wait_until(shows(browser, "#fatal-title", "token missing"), "the missing-token page")
    assert "scribe-ls dashboard" in text_of(browser, "#fatal-text")


def _http(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers)
    return conn.getresponse()


def test_foreign_hosts_and_origins_are_refused_and_the_page_is_locked_down(dashboard: Dashboard) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    own = f"127.0.0.1:{dashboard.port}"
    page = _http(dashboard.port, "/", {"Host": own})
    assert page.status == 200
    csp = page.getheader("Content-Security-Policy") or ""
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and f"ws://{own}" in csp
    assert page.getheader("X-Content-Type-Options") == "nosniff" and page.getheader("Server") is None
    # A DNS-rebinding page: its own name in Host.
    assert _http(dashboard.port, "/", {"Host": f"attacker.example:{dashboard.port}"}).status == 421
    assert _http(dashboard.port, "/dashboard.js", {"Host": "attacker.example"}).status == 421
    # Only the shipped files.
    for path in ("/../pyproject.toml", "/static/dashboard.js", "/etc/passwd", "/.scribe/scribe.db"):
        assert _http(dashboard.port, path, {"Host": own}).status == 404, path
    # A WebSocket from another page's Origin, or for another Host, is refused.
    for headers in ({"origin": "http://attacker.example"}, {"additional_headers": {"Host": "evil.example"}}):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://{own}/rpc", open_timeout=5, **headers)  # type: ignore[arg-type]
        assert refused.value.response.status_code in (403, 421)
    # The page's own Origin connects, and initialize without the token is refused.
    with connect(f"ws://{own}/rpc", origin=f"http://{own}", open_timeout=5) as ws:  # type: ignore[arg-type]
        ws.send(
            json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        )
        answer = json.loads(ws.recv(timeout=10))
    assert answer["error"]["code"] == -32014 and "token" in answer["error"]["message"]
    # The token is never written down: not in the store's log, not in any file there.
    for path in (dashboard.root / ".scribe").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_a_server_that_goes_away_is_retried_and_many_tabs_stay_live(
    repo: Path, browser: webdriver.Chrome
) -> None:
    started(repo)
    first = Dashboard(repo)
    try:
        open_page(browser, first.url)
        browser.switch_to.new_window("tab")
        open_page(browser, first.url)
        assert run_cli(repo, "append", "seen by both tabs").returncode == 0
        for handle in browser.window_handles:
            browser.switch_to.window(handle)
            wait_until(shows(browser, "#timeline", "seen by both tabs"), "the note in every tab")
        first.stop()
        wait_until(shows(browser, "#connection", "disconnected, retrying"), "the disconnected state")
        assert "retrying" in text_of(browser, "#banner")
        second = Dashboard(repo, port=first.port)
    finally:
        first.stop()
    try:
        wait_until(lambda: text_of(browser, "#connection") == "live", "reconnected", 20)
        assert run_cli(repo, "append", "after the restart").returncode == 0
        wait_until(shows(browser, "#timeline", "after the restart"), "pushes again after reconnecting")
    finally:
        second.stop()


def test_a_server_error_is_shown_in_the_page_as_the_server_words_it(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    started(repo)
    open_page(browser, dashboard.url)
    wait_until(shows(browser, "article.card h3", "B-4242"), "the session's card")
    # A kind the page does not offer (as a hand-edited page might send): the server's -32602.
    browser.execute_script(
        "const kind = document.getElementById('note-kind'); const o = document.createElement('option');"
        "o.value = 'shout'; o.textContent = 'shout'; kind.append(o); kind.value = 'shout';"
    )
    browser.find_element(By.ID, "note-text").send_keys("LOUD")
    browser.find_element(By.CSS_SELECTOR, "#note-form button").click()
    wait_until(shows(browser, "#banner", "scribe/appendEntry: kind:"), "the server's error in the page")
    assert text_of(browser, "#connection") == "live"  # the server goes on


def _realistic_session(repo: Path) -> None:
    assert run_cli(repo, "import", str(LEGACY / "worklogs-B-096.md")).returncode == 0
    started(repo)
    for kind, text in (
        ("note", "profiling the context packet: the diff section dominates"),
        ("decision", "cache sections per HEAD and invalidate on pushes"),
        ("todo", "chart the time per item for the last 30 days"),
        ("idea", "group appends of one process into one transaction"),
    ):
        assert run_cli(repo, "append", "--kind", kind, text).returncode == 0
    assert (
        run_cli(
            repo, "append", "--author", "claude-code", "read the packet; starting on the cache"
        ).returncode
        == 0
    )
    (repo / "src").mkdir()
    for name in ("cache.py", "packet.py", "diff.py"):
        (repo / "src" / name).write_text(f"# {name}\n")
    # A week of recorded time on two items (as the editors' heartbeats would have left).
    import sqlite3
    from datetime import date, timedelta

    week = ((5400, 0), (7200, 1800), (3600, 2700), (9000, 0), (1800, 3600))  # B-4242, B-096
    add = (
        "INSERT INTO time_daily VALUES (?, ?, ?, ?, 10) ON CONFLICT (day, item, branch)"
        " DO UPDATE SET seconds = seconds + excluded.seconds"
    )
    with sqlite3.connect(repo / ".scribe" / "scribe.db") as db:
        for back, (mine, legacy) in enumerate(week):
            day = (date.today() - timedelta(days=back)).isoformat()
            db.execute(add, (day, "B-4242", "feature/B-4242-x", mine))
            db.execute(add, (day, "B-096", "main", legacy))
            # B-4242 was shared with a coding agent: 2/3 the person's, 1/2 the agent's.
            split = (
                "INSERT INTO time_by_author VALUES (?, 'B-4242', ?, ?, 10) ON CONFLICT (day, item, author)"
                " DO UPDATE SET seconds = seconds + excluded.seconds"
            )
            db.executemany(split, [(day, "person", mine * 2 // 3), (day, "claude-code", mine // 2)])


def test_a_screenshot_of_a_realistic_session_is_written_and_not_blank(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    from PIL import Image

    _realistic_session(repo)
    open_page(browser, dashboard.url)
    wait_until(shows(browser, "#timeline", "read the packet"), "the timeline")
    wait_until(shows(browser, ".card-saved", ".py"), "the saved files")
    browser.find_element(By.ID, "context-load").click()
    wait_until(shows(browser, "#context-markdown", "B-4242"), "the rendered packet")
    costs = text_of(browser, "#context-costs")
    assert "diff" in costs and "tokens" in costs
    # The rows add up to the packet's characters, in its own units (Markdown).
    rows = "#context-costs tbody tr"
    said = browser.execute_script(
        f"return [...document.querySelectorAll('{rows}')].map((r) => +r.cells[2].textContent)"
    )
    total = int(text_of(browser, "#context-summary").split(" characters")[0].rsplit(" ", 1)[-1])
    assert sum(said) == total and "title, notice and headings" in costs
    browser.find_element(By.ID, "search-query").send_keys("cache")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait_until(shows(browser, "#search-results", "cache sections per HEAD"), "search results")
    # The chart: SVG bars with an hour axis; the 30-day range has the same week in it.
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart svg rect.bar")
    assert len(bars) == 2 and "7h 30m" in text_of(browser, "#chart")  # B-4242's week
    ticks = browser.execute_script("return [...document.querySelectorAll('#chart svg text.tick')].length")
    assert ticks >= 3
    browser.find_element(By.ID, "range-30").click()
    wait_until(lambda: browser.find_element(By.ID, "range-30").get_attribute("aria-pressed") == "true", "30d")
    wait_until(shows(browser, "#time-total", "9h 45m in all"), "the 30-day total")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1280, min(2400, max(900, int(height) + 40)))
    assert browser.save_screenshot(str(SCREENSHOT))
    with Image.open(SCREENSHOT) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
        assert image.width >= 1000 and image.height >= 800
    # Not blank: many colours (text, cards, the chart), no single one covering everything.
    assert len(colours) > 50, len(colours)
    assert max(count for count, _ in colours) < 0.97 * sum(count for count, _ in colours)


def test_an_overlap_between_two_sessions_is_shown(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    # Another item's session (paused when the branch's starts) and the branch's one both
    # touched src/shared.py.
    other = json.loads(run_cli(repo, "start", "--backlog-id", "B-7", "--json").stdout)["id"]
    edit = ("--file", "src/shared.py", "edits it")
    assert run_cli(repo, "append", "--session", other, *edit).returncode == 0
    started(repo)
    assert run_cli(repo, "append", *edit).returncode == 0
    open_page(browser, dashboard.url)
    wait_until(shows(browser, "#overlaps", "is also working on src/shared.py"), "the overlap warning")
    assert browser.find_element(By.ID, "overlaps-section").is_displayed()


CONTRAST = """
const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let n = el; n; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor;
    if (!c.startsWith('rgba(0, 0, 0, 0)') && c !== 'transparent') return c;
  }
  return getComputedStyle(document.documentElement).backgroundColor;
};
return [...document.querySelectorAll(arguments[0])].filter((el) => el.offsetParent !== null).map((el) => {
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(rgb(background(el)))];
  return [el.className || el.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
});
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_passes_contrast_in_light_and_dark_and_the_form_works_from_the_keyboard(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome, scheme: str
) -> None:
    from selenium.webdriver.common.keys import Keys

    started(repo)
    assert run_cli(repo, "append", "--author", "claude-code", "an agent's note").returncode == 0
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    try:
        open_page(browser, dashboard.url)
        wait_until(shows(browser, "#timeline", "an agent's note"), "the timeline")
        checked = (
            "h1, h2, .muted, .card dt, .card dd, .status, .kind, .author, #timeline .text, button, .pill"
        )
        ratios = browser.execute_script(CONTRAST, checked)
        assert len(ratios) > 10
        low = [(name, round(ratio, 2)) for name, ratio in ratios if ratio < 4.5]
        assert not low, f"below WCAG AA (4.5:1) in {scheme}: {low}"
        # Every control has a label a screen reader says.
        unlabeled = browser.execute_script(
            "return [...document.querySelectorAll('input, select')].filter((el) =>"
            " !el.labels?.length && !el.getAttribute('aria-label')).map((el) => el.id)"
        )
        assert unlabeled == []
        # The keyboard alone: focus the note field, type, Enter adds it.
        browser.find_element(By.ID, "note-text").send_keys(f"typed in {scheme}", Keys.ENTER)
        wait_until(shows(browser, "#timeline", f"typed in {scheme}"), "the note sent with Enter")
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_an_agents_turns_and_its_share_of_the_time_are_shown(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome
) -> None:
    """A coding agent's hooks (run as Claude Code runs them) write a turn; a day of time
    split between the person and the agent: the timeline shows the turn as the agent's, the
    chart a person/agent strip under the item's bar and says the split in words."""
    import sqlite3
    from datetime import date

    from .test_agent_hooks import as_claude_code, payload

    started(repo)
    assert run_cli(repo, "hooks", "install").returncode == 0
    for event, fixture, changes in (
        ("UserPromptSubmit", "UserPromptSubmit", {"prompt": "cache the packet per HEAD"}),
        ("PostToolUseFailure", "PostToolUseFailure.Bash", {}),
        ("Stop", "Stop", {}),
    ):
        assert as_claude_code(repo, event, payload(fixture, repo, **changes)).returncode == 0
    today = date.today().isoformat()
    with sqlite3.connect(repo / ".scribe" / "scribe.db") as db:
        db.execute(
            "INSERT OR REPLACE INTO time_daily VALUES (?, 'B-4242', 'feature/B-4242-x', 3600, 10)", (today,)
        )
        db.executemany(
            "INSERT OR REPLACE INTO time_by_author VALUES (?, 'B-4242', ?, ?, 10)",
            [(today, "person", 2400), (today, "claude-code", 1800)],
        )
    open_page(browser, dashboard.url)
    wait_until(shows(browser, "#timeline", "cache the packet per HEAD"), "the agent's prompt")
    turn = browser.find_element(By.CSS_SELECTOR, "#timeline li.turn-start")
    assert "TURN" in turn.text.upper() and "claude-code:8c35adc1-5d0" in turn.text
    steps = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li.turn-step")]
    assert any("→ exit 1" in step for step in steps) and any("turn ended" in step for step in steps)
    wait_until(shows(browser, "#chart", "person 40m · claude-code 30m, 10m of it at once"), "the split said")
    strip = browser.execute_script(
        "return [...document.querySelectorAll('#chart svg rect.split')].map((r) =>"
        " [r.dataset.author, Number(r.getAttribute('width'))])"
    )
    assert [author for author, _ in strip] == ["person", "claude-code"]
    (_, person), (_, agent) = strip
    assert abs(person / agent - 2400 / 1800) < 0.01, "each one's share of the item's bar"
    bar = float(browser.find_element(By.CSS_SELECTOR, "#chart svg rect.bar").get_attribute("width"))
    assert abs(person + agent - bar) < 0.5, "the strip spans the item's bar, no more"
    assert "coding agents" in text_of(browser, "#chart .legend")


def test_the_team_panel_shows_who_is_on_which_item_from_the_shared_logs(
    repo: Path, dashboard: Dashboard, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    """Bo (another clone, his own home) shares his session on B-1400 touching src/x.py;
    this repository syncs: the page's Team panel names him, his item and his file, and the
    overlap with this session's own src/x.py says he is a teammate."""
    import subprocess

    from .helpers import git
    from .teams import Developer

    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD")
    git(remote, "symbolic-ref", "HEAD", "refs/heads/feature/B-4242-x")
    bo = Developer(tmp_path, remote, "Bo Chen", "bo@example.com", "feature/B-1400-auth")
    bo.cli("start")
    bo.cli("append", "--file", "src/x.py", "auth touches x")
    bo.cli("share", "on")
    bo.sync()
    started(repo)
    assert run_cli(repo, "append", "--file", "src/x.py", "mine too").returncode == 0
    assert run_cli(repo, "share", "on").returncode == 0
    assert run_cli(repo, "sync").returncode == 0
    open_page(browser, dashboard.url)
    wait_until(shows(browser, "#team", "Bo Chen <bo@example.com>"), "the team panel")
    assert "1 person in the shared logs" in text_of(browser, "#team-summary")
    shown = text_of(browser, "#team")
    assert "B-1400 · active since" in shown and "src/x.py" in shown
    wait_until(shows(browser, "#overlaps", "teammate Bo Chen <bo@example.com>"), "the teammate's overlap")
