"""git on an untrusted repository: how every git process scribe-ls starts is run, so that
nothing the repository names is ever executed and the work tree is the one we were given.

A repository names programs in its configuration (``.git/config``, the files it includes,
``config.worktree``) and, through ``.gitattributes``, in the drivers that configuration
defines. What git would run for the commands scribe-ls uses (``status``, ``diff``, ``log``,
``show``, ``ls-files``), and what turns each off:

- settings given on git's command line beat every file, includes and ``includeIf``
  included, so a fixed set is passed that way (as ``GIT_CONFIG_COUNT``/``KEY``/``VALUE``,
  which carry any byte in a name): ``core.fsmonitor`` off, hooks from ``/dev/null``, no
  pager, no signature checks (``gpg.program``), no transports (a partial clone's lazy
  fetch would run ``core.sshCommand`` or a remote's ``uploadpack``), no credential helper,
  no automatic gc;
- filter drivers (``filter.<name>.clean``, ``.smudge``, ``.process``) are chosen by the
  repository's attributes, so their names are needed: they are read from the effective
  configuration (``git config --list --show-scope``, which reads files and runs nothing),
  and every driver the repository's own scopes (``local``, ``worktree``, and what those
  include) touch is overridden, with the user's own definition where the user has one (a
  global git-lfs keeps working), else with nothing (git then filters nothing);
- diff drivers and external diffs: ``--no-ext-diff --no-textconv`` on every command that
  can produce a diff (:data:`DIFF_OPTIONS`);
- submodules: ``--ignore-submodules=dirty``, so git never starts itself inside one (whose
  own configuration would name drivers of its own);
- where the repository is: ``GIT_DIR`` and ``GIT_WORK_TREE`` are set to what scribe-ls
  found, so ``core.worktree`` cannot move the work tree elsewhere, and variables inherited
  from a git hook that launched us cannot point git at another index or object store.

The configuration's answer is cached per repository under the stat of every file it came
from (and of every file an include names, and ``HEAD`` for ``onbranch:``), so a packet pays
a few ``stat`` calls, not a process; a repository whose ``config`` (and ``config.worktree``)
mention neither a filter nor an include defines no driver, and is not asked at all.
Synchronous and lean: the CLI uses it too.
"""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import NamedTuple

from ..repofiles import read_regular_bytes
from .files import GitDirs, find_git_dirs

# Settings every git process gets, beating anything in the repository's files.
FIXED_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("core.pager", "cat"),
    ("log.showSignature", "false"),
    ("status.submoduleSummary", "false"),
    ("submodule.recurse", "false"),
    ("protocol.allow", "never"),
    ("credential.helper", ""),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    # Output shapes the parsers rely on, whatever the repository prefers.
    ("color.ui", "false"),
    ("diff.noprefix", "false"),
    ("diff.mnemonicPrefix", "false"),
    ("diff.relative", "false"),
    ("i18n.logOutputEncoding", "UTF-8"),
)
# On every git command that can produce a diff.
DIFF_OPTIONS = ("--no-ext-diff", "--no-textconv", "--ignore-submodules=dirty")
# Inherited variables that would point git at another repository, index or object store
# (set, say, when a git hook started the editor), or run a program of their own choosing.
_DROPPED_ENV = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
        "GIT_EXTERNAL_DIFF",
        "GIT_DIFF_OPTS",
        "GIT_PAGER",
        "PAGER",
    }
)
CONFIG_LIST_ARGS = ("config", "--null", "--list", "--show-origin", "--show-scope")
REPO_SCOPES = frozenset({"local", "worktree"})
_DRIVER_KEYS = {"clean": "", "smudge": "", "process": "", "required": "false"}
CONFIG_TIMEOUT = 10.0


class NotARepository(Exception):
    """``root`` holds no git repository (no ``.git`` dir or file we can follow)."""


class ConfigEntry(NamedTuple):
    scope: str  # system | global | local | worktree | command
    origin: str  # "file:.git/config", "command line:", ...
    key: str  # section and name lowercased, subsection as written: filter.Evil.clean
    value: str


def parse_config_list(out: bytes) -> list[ConfigEntry]:
    """``git config --null --list --show-origin --show-scope``: scope NUL origin NUL
    key LF value NUL, per entry (a key without a value has no LF)."""
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    entries = []
    for index in range(0, len(fields) - 2, 3):
        scope, origin, pair = fields[index : index + 3]
        key, _, value = pair.partition("\n")
        entries.append(ConfigEntry(scope, origin, key, value))
    return entries


def driver_overrides(entries: list[ConfigEntry]) -> list[tuple[str, str]]:
    """For every filter driver the repository's own configuration touches: each of its
    program settings as the user defines it, or emptied (git then runs no filter)."""
    repo_drivers: dict[str, None] = {}
    users: dict[tuple[str, str], str] = {}
    for entry in entries:
        section, _, rest = entry.key.partition(".")
        name, _, setting = rest.rpartition(".")
        if section != "filter" or not name or setting not in _DRIVER_KEYS:
            continue
        if entry.scope in REPO_SCOPES:
            repo_drivers[name] = None
        else:
            users[(name, setting)] = entry.value  # the last one wins, as in git
    return [
        (f"filter.{name}.{setting}", users.get((name, setting), empty))
        for name in repo_drivers
        for setting, empty in _DRIVER_KEYS.items()
    ]


def _watched_files(root: Path, dirs: GitDirs, entries: list[ConfigEntry]) -> list[Path]:
    """Files whose change can change the configuration: every source file, every file an
    include names (it may appear later), and HEAD (``includeIf "onbranch:"``)."""
    files: dict[Path, None] = {dirs.git_dir / "HEAD": None, dirs.common_dir / "config": None}
    files[dirs.git_dir / "config.worktree"] = None
    for entry in entries:
        if not entry.origin.startswith("file:"):
            continue
        origin = Path(os.path.expanduser(entry.origin.removeprefix("file:")))
        origin = origin if origin.is_absolute() else root / origin
        files[origin] = None
        if entry.key == "include.path" or (entry.key.startswith("includeif.") and entry.key[-5:] == ".path"):
            target = Path(os.path.expanduser(entry.value))
            files[target if target.is_absolute() else origin.parent / target] = None
    return list(files)


def _stamp(paths: list[Path]) -> tuple[tuple[int, int, int] | None, ...]:
    stamps: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            stamps.append(None)
        else:
            stamps.append((info.st_mtime_ns, info.st_size, info.st_ino))
    return tuple(stamps)


class _Known(NamedTuple):
    dirs: GitDirs
    files: list[Path]
    stamps: tuple[tuple[int, int, int] | None, ...]
    overrides: tuple[tuple[str, str], ...]
    checked: float  # time.monotonic() of the last check that the files had not changed


# A check this recent is trusted without looking again: the sections of one packet start
# their git calls together, right after the packet looked (RepoFacts, in a worker thread).
FRESH = 0.05


_known: dict[Path, _Known] = {}
_known_lock = threading.Lock()
MAX_KNOWN = 64


# Files git opens with a plain open(2) on every status, diff or log. A FIFO there makes git
# wait for a writer forever (a device or socket fails oddly): such a repository gets no git
# process at all, and a clear error instead of a hung request.
_GIT_DIR_FILES = ("HEAD", "config.worktree", "index", "MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD")
_COMMON_DIR_FILES: tuple[str, ...] = ("config", "commondir", "packed-refs", "info/exclude")
_COMMON_DIR_FILES += ("info/attributes", "objects/info/alternates", "shallow")
_TREE_FILES = (".gitignore", ".gitattributes", ".gitmodules")


def special_file(root: Path, dirs: GitDirs) -> Path | None:
    """The first file git would open that is neither a regular file nor a directory: a
    FIFO, a device or a socket (a directory fails git's open at once and is left to git)."""
    paths = [dirs.git_dir / name for name in _GIT_DIR_FILES]
    paths += [dirs.common_dir / name for name in _COMMON_DIR_FILES]
    paths += [root / name for name in _TREE_FILES]
    for path in paths:
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError):
            continue  # absent (or a dangling link: git treats it as absent too)
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # stat followed any link
            return path
    return None


def repo_dirs(root: Path) -> GitDirs:
    dirs = find_git_dirs(root)
    if dirs is None:
        raise NotARepository(f"{root} is not a git repository")
    if (odd := special_file(root, dirs)) is not None:
        raise NotARepository(
            f"git is not run in {root}: {odd} is a FIFO, a device or a socket, which would leave"
            " git waiting forever; replace it with a regular file"
        )
    return dirs


def cached_overrides(root: Path) -> tuple[GitDirs, tuple[tuple[str, str], ...] | None]:
    """The repository's dirs, and its driver overrides if none of the files they came
    from has changed since they were read (None: run :data:`CONFIG_LIST_ARGS` and
    :func:`remember` what it says)."""
    dirs = repo_dirs(root)
    with _known_lock:
        known = _known.get(root)
    if known is not None and known.dirs == dirs and _stamp(known.files) == known.stamps:
        _keep(root, known._replace(checked=time.monotonic()))
        return dirs, known.overrides
    if not _may_name_drivers(dirs):
        # Nothing to override, known without a git process (most repositories: a CLI call
        # would otherwise pay one more process start).
        files = [dirs.common_dir / "config", dirs.git_dir / "config.worktree"]
        _keep(root, _Known(dirs, files, _stamp(files), (), time.monotonic()))
        return dirs, ()
    return dirs, None


def _keep(root: Path, known: _Known) -> None:
    with _known_lock:
        if root not in _known and len(_known) >= MAX_KNOWN:
            _known.pop(next(iter(_known)))  # bounded: the oldest repository goes
        _known[root] = known


def fresh_overrides(root: Path) -> tuple[GitDirs, tuple[tuple[str, str], ...]] | None:
    """What :func:`cached_overrides` found for ``root`` within the last :data:`FRESH`
    seconds, without touching the disk (None: look)."""
    with _known_lock:
        known = _known.get(root)
    if known is None or time.monotonic() - known.checked > FRESH:
        return None
    return known.dirs, known.overrides


def _may_name_drivers(dirs: GitDirs) -> bool:
    """Whether the repository's own configuration can define a filter driver: only its
    ``config`` and ``config.worktree`` and what they include can, and a section name is
    written as it is (any case), so a file with neither "filter" nor "include" in it
    defines none and includes nothing."""
    for path in (dirs.common_dir / "config", dirs.git_dir / "config.worktree"):
        text = (read_regular_bytes(path, limit=4_000_000) or b"").lower()
        if b"filter" in text or b"include" in text or len(text) == 4_000_000:
            return True
    return False


def remember(root: Path, dirs: GitDirs, config_list: bytes) -> tuple[tuple[str, str], ...]:
    entries = parse_config_list(config_list)
    overrides = tuple(driver_overrides(entries))
    files = _watched_files(root, dirs, entries)
    # Stamped after the listing: a file changed meanwhile is read again next time.
    _keep(root, _Known(dirs, files, _stamp(files), overrides, time.monotonic()))
    return overrides


def environment(root: Path, dirs: GitDirs, overrides: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    """The environment of a git process on ``root``: the user's, less what would move the
    repository, with the repository pinned and every override on git's command line."""
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV}
    env.update(
        GIT_DIR=str(dirs.git_dir),
        GIT_WORK_TREE=str(root),
        GIT_OPTIONAL_LOCKS="0",
        GIT_TERMINAL_PROMPT="0",
        GIT_PAGER="cat",
        PAGER="cat",
        LC_ALL="C",
    )
    # After the user's own command-line settings (GIT_CONFIG_COUNT), so ours win.
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    for key, value in (*FIXED_CONFIG, *overrides):
        env[f"GIT_CONFIG_KEY_{count}"] = key
        env[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    env["GIT_CONFIG_COUNT"] = str(count)
    return env


def argv(*args: str) -> list[str]:
    return ["git", "--no-pager", "--no-optional-locks", *args]


def run(root: Path, *args: str, timeout: float = CONFIG_TIMEOUT) -> bytes:
    """``git <args>`` in ``root``, hardened, blocking (the CLI's rare git calls; the
    service uses :func:`scribe_ls.git.commands.run_git`). Raises OSError or
    ``subprocess.CalledProcessError``/``TimeoutExpired`` as :func:`subprocess.run` does."""
    dirs, overrides = cached_overrides(root)
    if overrides is None:
        listed = _run(root, environment(root, dirs), CONFIG_LIST_ARGS, timeout)
        overrides = remember(root, dirs, listed)
    return _run(root, environment(root, dirs, overrides), args, timeout)


def _run(root: Path, env: dict[str, str], args: tuple[str, ...], timeout: float) -> bytes:
    return subprocess.run(
        argv(*args),
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=True,
    ).stdout
