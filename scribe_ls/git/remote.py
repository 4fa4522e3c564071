"""git that talks to a remote and writes objects, for sharing (:mod:`scribe_ls.team`):
``fetch``, ``push``, ``hash-object``, ``mktree``, ``commit-tree``, ``update-ref``, run with
:mod:`scribe_ls.git.safety`'s hardening and, for the transports, what a remote adds.

A fetch or a push can run programs the configuration names: ``core.sshCommand``, a
remote's ``uploadpack``/``receivepack`` (run locally for a ``file://`` remote), a credential
helper, ``core.askPass``, ``core.gitProxy``, a remote helper named by the URL
(``ext::``, ``<transport>::``), a signing program for ``push.gpgSign``, the hooks; a
``commit-tree`` signs with ``gpg.program`` (or ssh-keygen, gpgsm) when ``commit.gpgSign``
says so, and reading a signature runs it too. The
repository's own scopes (``.git/config`` and what it includes) may name none of them:
each such key the repository sets is replaced by the user's own value (global or system
scope, so the user's ssh, credentials and signing keep working) or by git's default; only
git's own transports are allowed (``file``, ``ssh``, ``git``, ``http``, ``https``); pushes
are never signed; a segment is signed only when the user's own configuration signs
commits (:attr:`Git.user_signs`); hooks come from ``/dev/null`` as everywhere.

Blocking (run in a worker thread by the service, directly by the CLI).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from .safety import (
    CONFIG_LIST_ARGS,
    REPO_SCOPES,
    ConfigEntry,
    _run,
    environment,
    parse_config_list,
    remember,
    repo_dirs,
)

TRANSPORT_TIMEOUT = 60.0
PLUMBING_TIMEOUT = 20.0
# Only git's own transports; every other one (ext::, remote helpers) is refused.
TRANSPORT_CONFIG: tuple[tuple[str, str], ...] = (
    ("protocol.allow", "never"),
    ("protocol.file.allow", "always"),
    ("protocol.ssh.allow", "always"),
    ("protocol.git.allow", "always"),
    ("protocol.http.allow", "always"),
    ("protocol.https.allow", "always"),
    ("push.gpgSign", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("push.recurseSubmodules", "no"),
    ("fetch.prune", "false"),
)
# Keys that name a program, by how git's own default reads (None: a list, reset and the
# user's own values added back).
_PROGRAM_DEFAULTS: dict[str, str | None] = {
    "core.sshcommand": "ssh",
    "core.askpass": "",
    "core.gitproxy": "",
    "credential.helper": None,
    # Signing and checking signatures (a segment signed as the user signs, a teammate's
    # segment's signature read): the user's programs, never the repository's.
    "gpg.program": "gpg",
    "gpg.openpgp.program": "gpg",
    "gpg.x509.program": "gpgsm",
    "gpg.ssh.program": "ssh-keygen",
    "gpg.ssh.defaultkeycommand": "",
}
_REMOTE_PROGRAMS = {"uploadpack": "git-upload-pack", "receivepack": "git-receive-pack"}


class RemoteError(Exception):
    """A git call for sharing failed; the message is git's last line (or why)."""


def _program_key(key: str) -> tuple[str, str | None] | None:
    """``(key, default)`` when ``key`` names a program (None for the default: a list)."""
    if key in _PROGRAM_DEFAULTS:
        return key, _PROGRAM_DEFAULTS[key]
    section, _, rest = key.partition(".")
    sub, _, name = rest.rpartition(".")
    if section == "credential" and name == "helper" and sub:
        return key, None  # credential.<url>.helper
    if section == "remote" and sub and name in _REMOTE_PROGRAMS:
        # Overridden here too, but git keeps the first value it reads for these: the fetch
        # and the push also name the program on their command line (team/share.py).
        return key, _REMOTE_PROGRAMS[name]
    return None


def transport_overrides(entries: list[ConfigEntry]) -> list[tuple[str, str]]:
    """For every program-naming key the repository's own scopes set: the user's value (the
    last, as git reads it; every value, for a list) or git's default."""
    # Every git process gets an emptied credential.helper (safety.FIXED_CONFIG); a fetch or
    # push gets the user's own back, whether or not the repository names one.
    touched: dict[str, str | None] = {"credential.helper": None}
    users: dict[str, list[str]] = {}
    for entry in entries:
        named = _program_key(entry.key)
        if named is None:
            continue
        if entry.scope in REPO_SCOPES:
            touched[named[0]] = named[1]
        elif entry.scope in ("system", "global"):
            users.setdefault(entry.key, []).append(entry.value)
    overrides: list[tuple[str, str]] = []
    for key, default in touched.items():
        if default is None:  # a list: emptied (which resets it), then the user's own
            overrides.append((key, ""))
            overrides += [(key, value) for value in users.get(key, []) if value]
        else:
            overrides.append((key, users.get(key, [default])[-1]))
    return overrides


class Git:
    """git for sharing in one repository: its configuration read once (one process), then
    each call hardened; ``transport=True`` for a fetch, a push, or anything that may sign
    or check a signature (the programs those run are the user's)."""

    def __init__(self, root: Path, timeout: float = PLUMBING_TIMEOUT) -> None:
        self.root = root
        dirs = repo_dirs(root)
        try:
            listed = _run(root, environment(root, dirs), CONFIG_LIST_ARGS, timeout)
        except (OSError, subprocess.SubprocessError) as exc:
            raise RemoteError(f"cannot read the repository's git configuration: {exc}") from None
        drivers = remember(root, dirs, listed)
        entries = parse_config_list(listed)
        self._env = environment(root, dirs, drivers)
        transport = (*drivers, *TRANSPORT_CONFIG, *transport_overrides(entries))
        self._transport_env = environment(root, dirs, transport)
        # Whether the user (not the repository) signs commits: their global or system
        # commit.gpgSign, the last one read.
        said = [
            e.value.lower() for e in entries if e.key == "commit.gpgsign" and e.scope in ("system", "global")
        ]
        self.user_signs = bool(said) and said[-1] in ("true", "yes", "on", "1")

    def __call__(
        self,
        *args: str,
        stdin: bytes | None = None,
        transport: bool = False,
        timeout: float = PLUMBING_TIMEOUT,
    ) -> bytes:
        """``git <args>``; raises RemoteError with git's own last line."""
        try:
            done = subprocess.run(
                ["git", "--no-pager", *args],
                cwd=self.root,
                env=self._transport_env if transport else self._env,
                input=stdin if stdin is not None else b"",
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise RemoteError(f"git {args[0]} took over {timeout:.0f} s; stopped") from None
        except OSError as exc:
            raise RemoteError(f"cannot run git: {exc}") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise RemoteError(lines[-1] if lines else f"git {args[0]} exited {done.returncode}")
        return done.stdout

    def config(self, key: str) -> str | None:
        """A setting as git reads it (any scope; a value is data, never run), or None."""
        try:
            return self("config", "--get", key).decode("utf-8", "replace").strip() or None
        except RemoteError:
            return None
