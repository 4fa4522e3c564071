"""What recording skips: ``.git`` internals (except the files that mean HEAD moved),
``.scribe/``, editors' temporary files, everything ``.gitignore`` and ``.git/info/exclude``
ignore (nested files included, read with ``pathspec``) and the configured ``excludes``
globs."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Sequence
from pathlib import Path

from pathspec import GitIgnoreSpec

from ..git.files import GitDirs
from ..lazylog import get_logger
from ..repofiles import printable_name, read_regular
from ..store.layout import SCRIBE_DIR

log = get_logger(__name__)


class IgnoreRules:
    """gitignore semantics through pathspec: ``.gitignore`` files at every level (read
    lazily and cached), ``info/exclude``, plus the configured exclude globs."""

    def __init__(self, root: Path, git_dirs: GitDirs | None, excludes: Sequence[str]) -> None:
        self.root = root
        self.excludes = tuple(excludes)
        self._specs: dict[str, GitIgnoreSpec | None] = {}
        self._info_exclude: GitIgnoreSpec | None = None
        if git_dirs is not None:
            self._info_exclude = _read_spec(git_dirs.common_dir / "info" / "exclude")

    def _spec_for(self, directory: str) -> GitIgnoreSpec | None:
        if directory not in self._specs:
            self._specs[directory] = _read_spec(self.root / directory / ".gitignore")
        return self._specs[directory]

    def forget(self, directory: str) -> None:
        """A ``.gitignore`` in ``directory`` changed: read it again next time."""
        self._specs.pop(directory, None)

    def ignored(self, rel: str, *, is_dir: bool = False) -> bool:
        if is_dir:
            return self._dir_ignored(rel) or any(fnmatch.fnmatch(rel, glob) for glob in self.excludes)
        if self.excludes and any(fnmatch.fnmatch(rel, glob) for glob in self.excludes):
            return True
        verdict: bool | None = None
        if self._info_exclude is not None:
            verdict = _check(self._info_exclude, rel, verdict)
        parts = rel.split("/")
        # Outer files first; a deeper .gitignore (or a later line) overrides an outer one.
        for depth in range(len(parts)):
            directory = "/".join(parts[:depth])
            spec = self._spec_for(directory)
            if spec is not None:
                verdict = _check(spec, "/".join(parts[depth:]), verdict)
            if verdict and depth < len(parts) - 1:
                # git does not look inside an ignored directory at all.
                prefix = "/".join(parts[: depth + 1])
                if self._dir_ignored(prefix):
                    return True
        return bool(verdict)

    def _dir_ignored(self, rel_dir: str) -> bool:
        parts = rel_dir.split("/")
        verdict: bool | None = None
        if self._info_exclude is not None:
            verdict = _check(self._info_exclude, rel_dir + "/", verdict)
        for depth in range(len(parts)):
            spec = self._spec_for("/".join(parts[:depth]))
            if spec is not None:
                verdict = _check(spec, "/".join(parts[depth:]) + "/", verdict)
        return bool(verdict)


def _check(spec: GitIgnoreSpec, rel: str, verdict: bool | None) -> bool | None:
    result = spec.check_file(rel).include
    return verdict if result is None else result


def _read_spec(path: Path) -> GitIgnoreSpec | None:
    # Not through a link (git ignores a symlinked .gitignore too), never blocking on a FIFO.
    lines = (read_regular(path, errors="replace") or "").splitlines()
    return GitIgnoreSpec.from_lines(lines) if lines else None


# -- the work tree ------------------------------------------------------------------------


# Files written next to the real one while saving or editing, never someone's work:
# Emacs lock and auto-save files, backups, Vim swap files and its write test, GNOME's
# atomic-save temps, LibreOffice locks, `sed -i`'s (sedXXXXXX), Python's tempfile
# (tmpXXXXXXXX) and every *.tmp (mkstemp's .app.py.XXXX.tmp, scribe-ls's own atomic writes).
_EDITOR_TEMP_RE = re.compile(
    r"^(?:\.#.*|#.*#|.*~|.*\.sw[px]|\..*\.sw[a-o]|4913|\.goutputstream-.*|\.~lock\..*#"
    r"|sed[A-Za-z0-9]{6}|tmp[a-z0-9_]{8}|.*\.tmp)$"
)


def editor_temp_file(name: str) -> bool:
    """True for a file name an editor uses as a temporary (never someone's work)."""
    return bool(_EDITOR_TEMP_RE.match(name))


class TreeFilter:
    """Decides, per raw event, whether it is work-tree activity, a git move, or noise."""

    def __init__(
        self, root: Path, git_dirs: GitDirs | None, rules: IgnoreRules, store_dir: Path | None = None
    ) -> None:
        self.root = root
        self.rules = rules
        # A store kept elsewhere (SCRIBE_DIR) but inside the work tree is never activity:
        # each write would record another.
        self._store = (
            store_dir.relative_to(root).as_posix()
            if store_dir is not None and store_dir.is_relative_to(root)
            else SCRIBE_DIR
        )
        self.git_dir = git_dirs.git_dir if git_dirs else None
        self.common_dir = git_dirs.common_dir if git_dirs else None
        self._root_prefix = str(root) + os.sep
        self._quiet_prefixes = tuple(
            str(d) + os.sep for d in (root / self._store, self.git_dir, self.common_dir) if d is not None
        )

    def worth_waking(self, path: str) -> bool:
        """Whether a raw event may matter: not the store's own writes, and in git's
        directory only HEAD and refs moving (not objects, the index, logs), so that our
        commits and git processes do not keep the watch awake. A string test per event,
        cheap on the event loop; :meth:`relative` decides the rest in a worker thread."""
        return not path.startswith(self._quiet_prefixes) or self.git_signal(path)

    def git_signal(self, path: str) -> bool:
        """HEAD, a branch ref or packed-refs changed (not their ``.lock`` files)."""
        if path.endswith(".lock"):
            return False
        if self.git_dir is not None and path == str(self.git_dir / "HEAD"):
            return True
        if self.common_dir is None:
            return False
        common = str(self.common_dir) + os.sep
        if not path.startswith(common):
            return False
        rest = path[len(common) :]
        # refs/remotes: a push moves the remote-tracking branch (stop_on_push listens).
        return rest == "packed-refs" or rest.startswith(
            ("refs" + os.sep + "heads" + os.sep, "refs" + os.sep + "remotes" + os.sep)
        )

    def relative(self, path: str, *, is_dir: bool = False) -> str | None:
        """The work-tree path to record, or None for anything we never record."""
        if not path.startswith(self._root_prefix):
            return None
        rel = printable_name(path[len(self._root_prefix) :].replace(os.sep, "/"))
        first = rel.split("/", 1)[0]
        if first in (".git", SCRIBE_DIR) or rel == self._store or rel.startswith(self._store + "/"):
            return None
        if not is_dir and editor_temp_file(rel.rsplit("/", 1)[-1]):
            return None
        if self.rules.ignored(rel, is_dir=is_dir):
            return None
        return rel

    def scan(self, directory: str, limit: int) -> list[str]:
        """Files under a directory that just appeared (inotify only watches a new directory
        once it has seen it, so files written into it right away would be missed)."""
        found: list[str] = []
        stack = [directory]
        while stack and len(found) < limit:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                rel = self.relative(entry.path, is_dir=is_dir)
                if rel is None:
                    continue
                if is_dir:
                    stack.append(entry.path)
                elif len(found) < limit:
                    found.append(rel)
        return found
