"""The one owner of ``<root>/.scribe/``: every path in it and every way of opening one.

A repository is outside input. It can commit ``.scribe/`` entries (``git add -f``) that a
clone recreates, so nothing here trusts what it finds:

- ``.scribe/`` must be a real directory owned by this user and not tracked by git; anything
  else is refused with one clear message (:class:`UnsafeStore`) and nothing is done there;
- every file is opened relative to a directory file descriptor with ``O_NOFOLLOW`` (a
  symlink planted in ``.scribe/`` is an error, never a redirect), sub-directories too;
- temp files get random names and ``O_EXCL``, so a planted name is never followed or
  truncated;
- SQLite opens its files by path, so they are checked (``lstat``) before the store opens.

Also here: finding the repository root, and the flock helper every lock file uses.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..git.files import find_git_dirs
from ..repofiles import read_regular_bytes

SCRIBE_DIR = ".scribe"
DB_NAME = "scribe.db"
LOG_NAME = "scribe.log"
LOCK_NAME = "recorder.lock"
CONFIG_NAME = "config.toml"
# The settings last read from the config sources, with the sources' stat stamps.
CONFIG_CACHE_NAME = ".config.cache.json"
WORKLOGS = "worklogs"
GITIGNORE = "# scribe-ls session store: kept out of git\n*\n"
SUMMARIES = "summaries"
# The files SQLite keeps next to the database.
DB_SIDE_FILES = ("-wal", "-shm", "-journal")

# A worklog's key is a backlog id or a session id; nothing else names a file here.
WORKLOG_KEY_RE = re.compile(r"^(?:B-[0-9]{1,9}|s-[0-9a-f]{12})$")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafeStore(OSError):
    """``.scribe/`` (or a file in it) is not something scribe-ls may use."""


def find_repo_root(start: Path) -> Path:
    """The git work tree holding ``start``, found the way git finds it (a ``.git`` dir or
    file in ``start`` or a parent); a plain directory is its own root, and so is ``start``
    when the repository found belongs to another user and the user's own git configuration
    does not list it in ``safe.directory`` (git refuses it too: :func:`foreign_repository`).

    Walking up costs microseconds where ``git rev-parse --show-toplevel`` costs a process
    start, and the CLI pays this on every call.
    """
    start = start.resolve()
    found = _nearest_git(start)
    if found is None or _foreign_owner(found) is None:
        return found or start
    return start


def _nearest_git(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _foreign_owner(work_tree: Path) -> int | None:
    """The uid of another user owning ``work_tree`` or its ``.git`` (git's own test), unless
    the user's own configuration trusts it; None when it is ours (or trusted)."""
    me = os.getuid()
    try:
        dot_git = work_tree / ".git"
        owners = {os.stat(work_tree).st_uid, os.lstat(dot_git).st_uid, os.stat(dot_git).st_uid}
        dirs = find_git_dirs(work_tree)  # a .git file's git dir, which git checks too
        if dirs is not None:
            owners.add(os.stat(dirs.git_dir).st_uid)
    except (OSError, ValueError):
        return None
    others = owners - {me}
    if not others or _safe_directory(work_tree):
        return None
    return others.pop()


def foreign_repository(start: Path) -> str | None:
    """Why the repository holding ``start`` is not used, when it belongs to another user:
    a message for the user, naming git's own remedy (None when nothing was refused)."""
    start = start.resolve()
    found = _nearest_git(start)
    owner = _foreign_owner(found) if found is not None else None
    if found is None or owner is None:
        return None
    return (
        f"{found} is a git repository owned by another user (uid {owner}); scribe-ls does not use "
        f"it, as git does not. If you trust it: git config --global --add safe.directory {found}"
    )


def _safe_directory(work_tree: Path) -> bool:
    """Whether ``safe.directory`` in the user's own (global or system) git configuration
    allows ``work_tree``: never the repository's, which git does not read for this either."""
    import subprocess  # only for a repository of another user: rare

    try:
        out = subprocess.run(
            ["git", "config", "--null", "--show-scope", "--get-all", "safe.directory"],
            cwd="/",
            capture_output=True,
            timeout=10,
            env={k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")},
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    allowed: list[str] = []
    fields = out.decode("utf-8", "surrogateescape").split("\0")
    for scope, value in zip(fields[::2], fields[1::2], strict=False):
        if scope not in ("system", "global", "command"):
            continue
        allowed = [] if value == "" else [*allowed, value]  # an empty value resets the list
    here = str(work_tree).rstrip("/")
    for value in allowed:
        value = os.path.expanduser(value).rstrip("/")
        if value == "*" or value == here or (value.endswith("/*") and here.startswith(value[:-1])):
            return True
    return False


def check_worklog_key(key: str) -> str:
    if not WORKLOG_KEY_RE.fullmatch(key):
        raise ValueError(f"worklog key {key[:40]!r} is not a backlog id or a session id")
    return key


def _untrusted(path: Path, what: str) -> UnsafeStore:
    return UnsafeStore(
        f"{path} {what}; scribe-ls does not use it (a repository can ship such entries). "
        f"Remove it, or point scribe-ls elsewhere"
    )


# Puts the store elsewhere (a read-only checkout): set by the user, or by `--store`.
STORE_ENV = "SCRIBE_DIR"


def store_dir_for(root: Path) -> Path:
    """Where ``root``'s store is: ``$SCRIBE_DIR`` (the user's, or ``--store``), else
    ``<root>/.scribe``. Never the repository's choice: a store named by a checked-out file
    could be another project's. A relative path is relative to the root."""
    chosen = os.environ.get(STORE_ENV)
    if not chosen:
        return root / SCRIBE_DIR
    return Path(os.path.abspath(root / os.path.expanduser(chosen)))


class Layout:
    """Paths under ``.scribe/`` (or wherever :func:`store_dir_for` puts the store) and
    safe ways to open them, for one repository root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = store_dir_for(root)
        self.db_path = self.dir / DB_NAME
        self.log_path = self.dir / LOG_NAME
        self.lock_path = self.dir / LOCK_NAME
        self.config_path = self.dir / CONFIG_NAME
        self.config_cache_path = self.dir / CONFIG_CACHE_NAME
        self.worklog_dir = self.dir / WORKLOGS
        self.summary_dir = self.dir / SUMMARIES
        self._checked = False

    # -- paths ------------------------------------------------------------------------------

    def worklog_path(self, key: str) -> Path:
        return self.worklog_dir / f"{check_worklog_key(key)}.md"

    def render_state_path(self, key: str) -> Path:
        """Where the last render of a worklog ended (lets a new process append)."""
        return self.worklog_dir / f".{check_worklog_key(key)}.state"

    @property
    def render_lock_path(self) -> Path:
        return self.worklog_dir / ".lock"

    def summary_path(self, key: str) -> Path:
        return self.summary_dir / f"{check_worklog_key(key)}-summary.md"

    @property
    def dashboard_launcher_path(self) -> Path:
        """A 0600 page that forwards the browser to the dashboard with its token (so the
        token is never on a browser's command line, which other users can read)."""
        return self.dir / "dashboard.html"

    def relative(self, path: Path) -> str:
        """A path for messages: relative to the root when inside it."""
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)

    # -- the directory ----------------------------------------------------------------------

    def reset(self) -> None:
        """Check the directories again on the next :meth:`ensure` (one was moved)."""
        self._checked = False

    def exists(self) -> bool:
        return os.path.lexists(self.dir)

    def ensure(self, *, create: bool = True) -> None:
        """Check ``.scribe/`` (creating it if ``create``), ``worklogs/`` and ``summaries/``.
        Raises :class:`UnsafeStore` for anything a repository could have planted, and
        FileNotFoundError when it is missing and ``create`` is false."""
        if self._checked:
            return
        existed = True
        try:
            info = os.lstat(self.dir)
        except FileNotFoundError:
            if not create:
                raise
            existed = False
            try:
                os.mkdir(self.dir, 0o700)
            except FileExistsError:
                existed = True  # another process made it just now; check it like any other
            info = os.lstat(self.dir)
        self._check_dir_entry(self.dir, info)
        if existed and self.dir.is_relative_to(self.root):
            # It may have come with the repository (a clone recreates tracked files).
            self._check_not_tracked()
        complete = True
        for sub in (self.worklog_dir, self.summary_dir):
            complete &= self._ensure_subdir(sub, create)
        # Checked for good only when nothing is missing: a later ensure() still creates.
        self._checked = complete

    def _check_dir_entry(self, path: Path, info: os.stat_result) -> None:
        if stat.S_ISLNK(info.st_mode):
            raise _untrusted(path, "is a symbolic link")
        if not stat.S_ISDIR(info.st_mode):
            raise _untrusted(path, "is not a directory")
        if info.st_uid != os.getuid():
            raise _untrusted(path, f"belongs to another user (uid {info.st_uid})")

    def _ensure_subdir(self, path: Path, create: bool) -> bool:
        """Check (or make) a sub-directory; False if it is missing and not made."""
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if not create:
                return False
            try:
                os.mkdir(path, 0o700)
            except FileExistsError:
                pass
            info = os.lstat(path)
        self._check_dir_entry(path, info)
        return True

    def _check_not_tracked(self) -> None:
        """Refuse a ``.scribe/`` that git tracks: its files came from the repository."""
        dirs = find_git_dirs(self.root)
        tracked_name = self.dir.relative_to(self.root).as_posix()
        if dirs is None or not _index_may_track(dirs.git_dir, tracked_name + "/"):
            return
        import subprocess  # rarely needed: not on the CLI's start-up path

        from ..git import safety as gitsafe

        try:
            out = gitsafe.run(self.root, "ls-files", "-z", "--", tracked_name)
        except (OSError, subprocess.SubprocessError, gitsafe.NotARepository):
            return  # no git (or git fails here): nothing can be tracked as far as we can tell
        if out.strip(b"\0"):
            first = out.split(b"\0", 1)[0].decode("utf-8", "replace")
            raise UnsafeStore(
                f"{self.dir} is tracked by git ({first}, …); scribe-ls does not use a .scribe/ "
                "that came with the repository. Run `git rm -r --cached .scribe` and delete it, "
                "then start again"
            )

    def keep_out_of_git(self) -> None:
        """A ``.gitignore`` of ``*`` in the store's directory, so ``git status`` never lists
        it (as virtual environments do). Written inside the store only: a repository's
        ``.git/info`` may be a link or its ``commondir`` another project's."""
        try:
            self.write_atomic(self.dir / ".gitignore", GITIGNORE)
        except OSError:
            pass  # a read-only store: git may list it, nothing worse

    def check_db_files(self) -> None:
        """SQLite opens these by path: none may be a link or anything but a regular file."""
        for path in (self.db_path, *(self.dir / f"{DB_NAME}{suffix}" for suffix in DB_SIDE_FILES)):
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(info.st_mode):
                kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
                raise _untrusted(path, f"is {kind}")

    # -- files ------------------------------------------------------------------------------

    @contextmanager
    def _dir_fd(self, directory: Path) -> Iterator[int]:
        """A descriptor of ``.scribe/`` or one of its sub-directories, opened without
        following a link at any step from the directory that holds the store (the root,
        or the parent of a store kept elsewhere: the user's choice)."""
        base = self.dir.parent
        parts = directory.relative_to(base).parts
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts:
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _untrusted(directory, "is a symbolic link or not a directory") from exc
                    raise
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def open_fd(self, path: Path, flags: int, mode: int = 0o600) -> int:
        """Open a file under ``.scribe/`` without following a link; the caller closes it."""
        with self._dir_fd(path.parent) as dir_fd:
            try:
                return os.open(path.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _untrusted(path, "is a symbolic link") from exc
                raise

    def read_text(self, path: Path) -> str | None:
        """A file's text, or None if it does not exist. Never reads through a link."""
        try:
            fd = self.open_fd(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the open
        except FileNotFoundError:
            return None
        with os.fdopen(fd, "r", encoding="utf-8", errors="replace", newline="") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise _untrusted(path, "is not a regular file")
            return handle.read()

    def stat(self, path: Path) -> os.stat_result | None:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return None
        return info if stat.S_ISREG(info.st_mode) else None

    def write_atomic(self, path: Path, text: str, mode: int = 0o644) -> bool:
        """Replace ``path`` with ``text`` through a randomly named temp file in the same
        directory and a rename (a link at ``path`` is replaced, never followed). False if
        the file already held exactly this text. ``mode`` 0o600 for a file with a secret."""
        try:
            if self.read_text(path) == text:
                return False
        except UnsafeStore:
            pass  # a planted link: replace the link itself below
        data = text.encode("utf-8")
        with self._dir_fd(path.parent) as dir_fd:
            tmp = f".{path.name}.{os.urandom(8).hex()}.tmp"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(tmp, flags, mode, dir_fd=dir_fd)
            try:
                with os.fdopen(fd, "wb") as handle:
                    # No fsync: files here are derived from the store, the durable copy; the
                    # rename alone keeps readers from ever seeing a torn file.
                    handle.write(data)
                os.replace(tmp, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=dir_fd)
                except OSError:
                    pass
                raise
        return True

    def remove(self, path: Path) -> None:
        """Remove ``path`` (a link is removed itself, never what it points at); gone is fine."""
        with self._dir_fd(path.parent) as dir_fd, contextlib.suppress(FileNotFoundError):
            os.unlink(path.name, dir_fd=dir_fd)

    def overwrite(self, path: Path, text: str) -> None:
        """Write ``text`` over ``path`` in place (no temp file, no rename: a small file that
        a torn read can only make look invalid, never wrong). A link there is removed, never
        followed, and a new file made."""
        try:
            fd = self.open_fd(path, os.O_WRONLY | os.O_CREAT, 0o644)
        except UnsafeStore:
            self.remove(path)
            fd = self.open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as handle:
            data = text.encode("utf-8")
            handle.write(data)
            handle.truncate(len(data))

    def append_text(self, path: Path, text: str) -> None:
        fd = self.open_fd(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))

    @contextmanager
    def locked(self, path: Path) -> Iterator[int]:
        """An exclusive ``flock`` on a lock file here, held for the block."""
        fd = self.open_fd(path, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def quarantined(self) -> list[str]:
        """Damaged stores (and their worklogs) moved aside at open, oldest first."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return []
        return sorted(n for n in names if f"{DB_NAME}.corrupt-" in n or n.startswith(f"{WORKLOGS}.corrupt-"))

    def list_names(self, directory: Path, suffix: str) -> list[str]:
        """Names of regular files in a directory here that end with ``suffix``."""
        try:
            with self._dir_fd(directory) as dir_fd:
                names = os.listdir(dir_fd)
                return sorted(
                    name
                    for name in names
                    if name.endswith(suffix)
                    and stat.S_ISREG(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
                )
        except FileNotFoundError:
            return []


INDEX_READ_LIMIT = 256 << 20


def _index_may_track(git_dir: Path, prefix: str) -> bool:
    """Cheap pre-check before running ``git ls-files``: the index lists full paths (up to
    version 3), so a prefix that is not in its bytes is not tracked. Version 4 compresses
    paths and a split index keeps them elsewhere: then only git can tell."""
    data = read_regular_bytes(git_dir / "index", limit=INDEX_READ_LIMIT)
    if data is None:
        return False  # no index (or a FIFO, on which git itself is never run): nothing tracked
    if len(data) == INDEX_READ_LIMIT:
        return True  # too big to look through here: git tells
    if len(data) < 12 or data[:4] != b"DIRC" or int.from_bytes(data[4:8], "big") >= 4:
        return True
    if b"link" in data[-4096:] or any(git_dir.glob("sharedindex.*")):
        return True
    return prefix.encode() in data
