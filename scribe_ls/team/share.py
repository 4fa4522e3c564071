"""Sharing through the repository's own git remote: this store's record written as an
append-only log under its own ref, pushed and fetched with the user's git, remote and
credentials; teammates' logs read into read-only copies (docs/team.md).

One writer per ref: ``refs/scribe/<author>/<writer>``, where ``author`` is the same on each
of a person's machines (from their git email) and ``writer`` is this clone's store, so two
machines or two people never write one ref. A sync: write the new records as a segment
(a commit whose tree holds ``log.jsonl``; its parent the ref's tip; committed as the
user), fetch ``refs/scribe/*`` into ``refs/scribe-fetched/<remote>/*`` (never over our own
ref), read each other writer's new segments, push our ref. Each step can be cut anywhere:
a segment is written before it is marked shared (a cut between re-shares the same records,
which readers take once), a writer's segments are applied in one transaction with the
commit they reach, and a push that did not happen happens at the next sync.

Sharing is the user's decision, never the repository's: ``share on`` records consent for
this working copy (its path and its git directory's identity) and for the remote's URL as
it was then; a store or a config that came with the repository cannot turn it on, and a
remote whose URL changed since is not pushed to until ``share on`` again.

Blocking (git processes and the store): the CLI calls it directly, the recorder in a thread.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..git.remote import Git, RemoteError
from ..redact import redact
from ..store.database import Store
from ..store.team import digest
from . import records as rec
from .views import team_overlaps

REFS = "refs/scribe/"
FETCHED = "refs/scribe-fetched/"
EMPTY = "0" * 40
MAX_WRITERS = 5000  # teammates' refs read at most per sync
MAX_NEW_SEGMENTS = 2000  # per writer per sync; the rest at the next
EXPORT_BATCH = 5000  # entries per segment
FETCH_TIMEOUT = 60.0


class ShareError(Exception):
    """Sharing cannot be turned on, or a sync cannot run; the message says why and what to do."""


@dataclass
class Sharing:
    """This working copy's sharing, as ``share on`` left it."""

    remote: str
    url: str
    writer: str  # <author>/<writer>
    name: str
    email: str

    @property
    def ref(self) -> str:
        return REFS + self.writer


@dataclass
class SyncReport:
    exported: int = 0
    imported: dict[str, int] = field(default_factory=dict)  # writer -> records
    pushed: bool = False
    fetched: bool = False
    overlaps: list[dict[str, Any]] = field(default_factory=list)  # told for the first time
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "exported": self.exported,
            "imported": self.imported,
            "fetched": self.fetched,
            "pushed": self.pushed,
            "overlaps": self.overlaps,
            "warnings": self.warnings,
            "error": self.error,
        }


def _working_copy(root: Path) -> str:
    """What consent is bound to: this path and its git directory (a store copied from
    elsewhere, or shipped in an archive, does not carry consent with it)."""
    info = os.stat(root / ".git")
    return f"{root.resolve()}\0{info.st_dev}:{info.st_ino}"


_REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")


def _checked_remote(remote: str) -> str:
    """A remote's name as git spells them (never an option: it goes on git's command line)."""
    if not _REMOTE_NAME.fullmatch(remote) or ".." in remote:
        raise ShareError(f"{remote[:80]!r} is not a git remote's name")
    return remote


def turn_on(store: Store, git: Git, remote: str) -> Sharing:
    """Record consent to share this working copy's record with ``remote`` as it is now."""
    remote = _checked_remote(remote)
    url = git.config(f"remote.{remote}.url")
    if url is None:
        raise ShareError(f"this repository has no remote named {remote!r} (`git remote -v` lists them)")
    if "::" in url:
        # <transport>::<address> runs a remote helper (ext:: runs any command): git's own only.
        raise ShareError(f"{remote} is {url!r}: sharing uses git's own transports only (ssh, https, file)")
    email, name = git.config("user.email"), git.config("user.name")
    if email is None or "@" not in email:
        raise ShareError("git has no user.email here; set it first (`git config user.email you@example.com`)")
    known = store.share_setting("writer")
    author = rec.author_id(email)
    mine = known is not None and rec.WRITER_RE.fullmatch(known) and known.startswith(author + "/")
    writer = known if known and mine else f"{author}/{rec.new_writer_id()}"
    consent = {"copy": _working_copy(store.root), "remote": remote, "url": url}
    store.set_share_settings({"consent": json.dumps(consent), "writer": writer})
    return Sharing(remote, url, writer, name or email, email)


def turn_off(store: Store) -> bool:
    was = store.share_setting("consent") is not None
    store.set_share_settings({"consent": None})
    return was


def sharing(store: Store, git: Git, *, everywhere: bool = False) -> Sharing:
    """The consented sharing of this working copy, or ShareError saying why there is none.
    ``everywhere``: the user's own config says ``share = true`` (every repository, with its
    ``origin``): that is consent where none was given here."""
    given = store.share_setting("consent")
    if given is None and everywhere:
        return turn_on(store, git, "origin")
    if given is None:
        raise ShareError("sharing is off for this repository (`scribe-ls share on` turns it on)")
    consent = json.loads(given)
    if consent.get("copy") != _working_copy(store.root):
        raise ShareError("sharing was turned on for another copy of this store; `scribe-ls share on` here")
    url = git.config(f"remote.{consent['remote']}.url")
    if url != consent["url"]:
        raise ShareError(
            f"remote {consent['remote']!r} now points at {url!r}, not {consent['url']!r} as when sharing"
            " was turned on; `scribe-ls share on` to share with it"
        )
    _checked_remote(consent["remote"])
    email = git.config("user.email") or ""
    writer = store.share_setting("writer") or ""
    if not rec.WRITER_RE.fullmatch(writer):
        raise ShareError("this store's log has no valid name; `scribe-ls share on` again")
    if not email or not writer.startswith(rec.author_id(email) + "/"):
        raise ShareError("git's user.email changed since sharing was turned on; `scribe-ls share on` again")
    return Sharing(consent["remote"], consent["url"], writer, git.config("user.name") or email, email)


def pending(store: Store, share: Sharing, *, prompts: bool) -> list[dict[str, Any]]:
    """The records this store has not shared yet, redacted: hello (first), sessions that
    changed, new entries (prompts only if allowed), days whose time changed."""
    kinds = (*rec.SHARED_KINDS, "intent") if prompts else rec.SHARED_KINDS
    after = int(store.share_setting("last_entry") or 0)
    found: list[dict[str, Any]] = []
    if store.share_setting("said_hello") != share.email:
        found.append({"t": "hello", "format": rec.FORMAT, "name": share.name, "email": share.email})
    for session, shared in store.session_records():
        session["title"] = redact(session["title"])
        session["branch"] = redact(session["branch"]) if session["branch"] else None
        if digest(session) != shared:  # compared as written: redacted
            found.append(session)
    for entry in store.unshared_entries(after, kinds, EXPORT_BATCH):
        entry["text"] = redact(entry["text"])  # redacted when written; again, as rules grow
        found.append(entry)
    found += store.unshared_time()
    return found


def export(store: Store, git: Git, share: Sharing, *, prompts: bool) -> int:
    """Write the pending records as one segment on our ref; how many."""
    found = pending(store, share, prompts=prompts)
    if not found:
        return 0
    blob = git("hash-object", "-w", "--stdin", stdin=rec.encode(found)).decode().strip()
    tree = git("mktree", stdin=f"100644 blob {blob}\t{rec.SEGMENT_FILE}\n".encode()).decode().strip()
    parent = _tip(git, share.ref)
    parents = ["-p", parent] if parent else []
    message = f"scribe-ls: {len(found)} records\n".encode()
    # Signed as the user signs their commits (their own config), else never: the
    # repository's commit.gpgSign would run a program it names.
    sign = "-S" if git.user_signs else "--no-gpg-sign"
    commit = git("commit-tree", sign, tree, *parents, stdin=message, transport=True).decode().strip()
    git("update-ref", "-m", "scribe-ls share", share.ref, commit, parent or EMPTY)
    last = max((r["id"] for r in found if r["t"] == "entry"), default=None)
    settings = {"said_hello": share.email} | ({"last_entry": str(last)} if last is not None else {})
    store.mark_shared(found, settings)
    return len(found)


def _tip(git: Git, ref: str) -> str | None:
    try:
        return git("rev-parse", "--verify", "-q", ref + "^{commit}").decode().strip() or None
    except RemoteError:
        return None


def fetch(git: Git, share: Sharing) -> None:
    # --upload-pack/--receive-pack: git keeps the *first* remote.<name>.uploadpack it reads
    # (the repository's), so the command line names the program, not the configuration.
    git(
        "fetch", "--no-tags", "--no-write-fetch-head", "--quiet", "--upload-pack=git-upload-pack",
        share.remote, f"+{REFS}*:{FETCHED}{share.remote}/*",
        transport=True, timeout=FETCH_TIMEOUT,
    )  # fmt: skip


def push(git: Git, share: Sharing) -> None:
    if _tip(git, share.ref) is None:
        return  # nothing written yet
    git(
        "push", "--quiet", "--no-verify", "--receive-pack=git-receive-pack", share.remote,
        f"{share.ref}:{share.ref}", transport=True, timeout=FETCH_TIMEOUT,
    )  # fmt: skip


def import_fetched(store: Store, git: Git, share: Sharing, report: SyncReport) -> None:
    """Read every other writer's new segments into the store."""
    prefix = f"{FETCHED}{share.remote}/"
    listed = git("for-each-ref", "--format=%(refname) %(objectname)", prefix).decode("utf-8", "replace")
    for line in listed.splitlines()[:MAX_WRITERS]:
        name, _, tip = line.rpartition(" ")
        writer = name[len(prefix) :]
        if writer == share.writer:
            continue
        if not rec.WRITER_RE.fullmatch(writer):
            report.warnings.append(f"{name[:120]!r}: not a scribe-ls log's name; skipped")
            continue
        try:
            count = _import_writer(store, git, writer, tip, report)
        except RemoteError as exc:
            report.warnings.append(f"{writer}: cannot be read ({exc}); skipped")
            continue
        if count:
            report.imported[writer] = count


def _import_writer(store: Store, git: Git, writer: str, tip: str, report: SyncReport) -> int:
    known = store.writer_commit(writer)
    if known == tip:
        return 0
    restart = known is not None and not _is_ancestor(git, known, tip)
    span = [tip] if known is None or restart else [tip, f"^{known}"]
    commits = git("rev-list", "--reverse", f"--max-count={MAX_NEW_SEGMENTS}", *span).decode().split()
    if not commits:
        return 0
    # Who pushed it (the committer), and whether it is signed where the user's git checks
    # signatures (%G?: G good, U good of unknown trust, B bad, N none, E cannot be checked).
    shown = git("show", "-s", "--format=%cN <%cE>%x00%G?", tip, transport=True).decode("utf-8", "replace")
    pusher, _, signed = shown.strip().partition("\0")
    pusher = pusher[:200] + {"G": " (signed)", "U": " (signed)", "B": " (BAD signature)"}.get(signed, "")
    blobs = _segments(git, commits)
    # Read together: a session's state said at every sync is checked once, its last.
    decoded = iter(rec.decode_many(blob for blob in blobs if blob is not None))
    segments: list[tuple[str, list[dict[str, Any]], int]] = []
    for commit, blob in zip(commits, blobs, strict=True):
        if blob is None:
            report.warnings.append(
                f"{writer} {commit[:12]}: no {rec.SEGMENT_FILE} or over the size cap; skipped"
            )
            segments.append((commit, [], 1))
            continue
        found, problems = next(decoded)
        report.warnings += [f"{writer} {commit[:12]}: {p}" for p in problems[:5]]
        segments.append((commit, found, len(problems)))
    store.apply_segments(writer, writer.split("/")[0], pusher, segments, restart=restart)
    return sum(len(found) for _, found, _ in segments)


MAX_TOLD = 2000  # (session, teammate's session, file) said already, remembered at most
OPEN_PATHS = 5000  # a local session's files compared with teammates'


def tell_overlaps(store: Store) -> list[dict[str, Any]]:
    """Teammates' open sessions (just read) that change files one of this store's open
    sessions changed: each told once per pair of sessions and file, on the change feed
    (every running server pushes it as ``scribe/overlap``), and returned."""
    told = set(json.loads(store.share_setting("told") or "[]"))
    fresh_overlaps = []
    for session in [*store.list_sessions(status="active"), *store.list_sessions(status="paused")]:
        for overlap in team_overlaps(store, session, store.session_paths(session.id, OPEN_PATHS)):
            other = overlap["otherSession"]["id"]
            fresh = [f for f in overlap["files"] if f"{session.id}\0{other}\0{f}" not in told]
            if not fresh:
                continue
            told.update(f"{session.id}\0{other}\0{f}" for f in fresh)
            overlap = {**overlap, "files": fresh}
            store.publish("overlap", session.id, json.dumps(overlap))
            fresh_overlaps.append(overlap)
    if fresh_overlaps:
        store.set_share_settings({"told": json.dumps(sorted(told)[-MAX_TOLD:])})
    return fresh_overlaps


def _is_ancestor(git: Git, older: str, newer: str) -> bool:
    try:
        git("merge-base", "--is-ancestor", older, newer)
        return True
    except RemoteError:
        return False


def _segments(git: Git, commits: list[str]) -> list[bytes | None]:
    """Each commit's ``log.jsonl`` (None: missing, not a blob, or over the cap), read in
    two processes whatever their number: sizes first, then the contents of those within it."""
    asked = "".join(f"{c}:{rec.SEGMENT_FILE}\n" for c in commits).encode()
    checked = git("cat-file", "--batch-check", stdin=asked).decode().splitlines()
    wanted = []
    for line in checked:
        parts = line.split()
        ok = len(parts) == 3 and parts[1] == "blob" and int(parts[2]) <= rec.MAX_SEGMENT_BYTES
        wanted.append(parts[0] if ok else None)
    names = [w for w in wanted if w is not None]
    out = git("cat-file", "--batch", stdin="".join(f"{n}\n" for n in names).encode()) if names else b""
    contents: dict[str, bytes] = {}
    position = 0
    for name in names:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        contents[name] = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1
    return [contents.get(w) if w else None for w in wanted]


def sync(store: Store, root: Path, *, prompts: bool = False, everywhere: bool = False) -> SyncReport:
    """Export, fetch, import, push; what happened. Offline: the export is kept (nothing
    lost), the failure said and remembered for the back-off."""
    report = SyncReport()
    git = Git(root)
    share = sharing(store, git, everywhere=everywhere)
    report.exported = export(store, git, share, prompts=prompts)
    try:
        fetch(git, share)
        report.fetched = True
        import_fetched(store, git, share, report)
        if report.imported:
            report.overlaps = tell_overlaps(store)
        push(git, share)
        report.pushed = True
    except RemoteError as exc:
        report.error = f"{share.remote} unreachable: {exc}"
        failures = int(store.share_setting("failures") or 0) + 1
        store.set_share_settings(
            {"failures": str(failures), "last_error": report.error, "tried_at": store.now()}
        )
        return report
    now = store.now()
    store.set_share_settings({"failures": None, "last_error": None, "synced_at": now, "tried_at": now})
    return report
