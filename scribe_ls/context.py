"""The context packet (``scribe/getContext``): sections fetched in parallel, cached, budgeted.

Each section is one coroutine; they run concurrently under a semaphore, each with its own
timeout, and a failing section becomes ``{ok: false, error}`` without failing the others.
The packet is cached per (session, sections, budget, format) until something changes: the
service bumps a generation number on every notification it emits (entries, session changes,
work-tree activity, relayed changes from other processes), which covers new entries, saved
files and HEAD moves. Only services that watch (servers, ``live``) cache; an in-process
``Scribe`` that watches nothing always reads afresh.

The budget: ``maxChars`` bounds the JSON of all section data, or the Markdown text. The diff
gives its numstat header for every changed file, then whole hunks (most changed lines first)
while they fit, and lists the files whose hunks were left out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import git, gitfiles
from .model import Entry, Overlap, Session, SessionSummary
from .redact import may_hold_secret, redact

START_ORDER = ("diff", "git", "commits", "sessions", "worklog", "summary", "session")
SECTION_TIMEOUT = 5.0
MAX_CONCURRENT_SECTIONS = 4
CACHE_TTL = 30.0  # active time keeps counting; do not serve a stale clock for long
CACHE_SIZE = 64
MAX_LISTED_FILES = 200
RECENT_COMMITS = 10
RECENT_ENTRIES = 20
MAX_ENTRY_TEXT = 500
TRUNCATED = "\n…[truncated to fit maxChars]\n"


@dataclass(frozen=True, slots=True)
class ContextRequest:
    session_id: str | None
    sections: tuple[str, ...]
    max_chars: int
    format: str  # json | markdown


@dataclass(frozen=True, slots=True)
class RepoFacts:
    dirs: gitfiles.GitDirs | None  # None: not a git repository
    head: str | None  # None: no commits yet


def _repo_facts(root: Path) -> RepoFacts:
    return RepoFacts(gitfiles.find_git_dirs(root), gitfiles.read_head_sha(root))


class SectionError(Exception):
    """A section that cannot be produced; the message goes to the client."""


class ContextSource(Protocol):
    """What a context packet reads (the service provides it). ``generation`` moves on
    every notification; ``watching`` says whether this source hears about every change, so
    that a cached packet can be trusted until the generation moves."""

    root: Path
    generation: int

    @property
    def watching(self) -> bool: ...

    async def get_session(self, session_id: str) -> Session: ...

    async def current_session(self) -> Session | None: ...

    async def recent_entries(self, session_id: str, limit: int) -> list[Entry]: ...

    async def summary_counts(self, session_id: str) -> SessionSummary: ...

    async def overlapping_sessions(self, session_id: str | None) -> list[Overlap]: ...


class ContextProvider:
    def __init__(
        self,
        scribe: ContextSource,
        *,
        concurrency: int = MAX_CONCURRENT_SECTIONS,
        section_timeout: float = SECTION_TIMEOUT,
    ) -> None:
        self.scribe = scribe
        self.concurrency = concurrency
        self.section_timeout = section_timeout
        self._cache: dict[ContextRequest, tuple[int, float, dict[str, Any]]] = {}

    async def get(self, request: ContextRequest) -> dict[str, Any]:
        started = time.perf_counter()
        generation = self.scribe.generation
        cacheable = self.scribe.watching
        hit = self._cache.get(request) if cacheable else None
        if hit is not None and hit[0] == generation and time.monotonic() - hit[1] < CACHE_TTL:
            return {**hit[2], "cached": True, "elapsedMs": _ms(started)}
        packet = await self._build(request)
        if cacheable and self.scribe.generation == generation:  # nothing changed meanwhile
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[request] = (generation, time.monotonic(), packet)
        return {**packet, "cached": False, "elapsedMs": _ms(started)}

    async def _build(self, request: ContextRequest) -> dict[str, Any]:
        # The session (store thread) and where the repository is and what HEAD is (one
        # worker-thread hop), once per packet and side by side: both precede every section.
        session, repo = await asyncio.gather(
            self._session(request.session_id), asyncio.to_thread(_repo_facts, self.scribe.root)
        )
        slots = asyncio.Semaphore(self.concurrency)
        fetchers: dict[str, Callable[[], Awaitable[Any]]] = {
            "session": lambda: self._section_session(session),
            "git": lambda: self._section_git(repo),
            "diff": lambda: self._section_diff(repo),
            "commits": lambda: self._section_commits(repo),
            "worklog": lambda: self._section_worklog(session),
            "summary": lambda: self._section_summary(session),
            "sessions": lambda: self._section_sessions(session),
        }

        async def run(name: str) -> dict[str, Any]:
            async with slots:
                began = time.perf_counter()
                try:
                    data = await asyncio.wait_for(fetchers[name](), self.section_timeout)
                except TimeoutError:
                    return {
                        "ok": False,
                        "error": f"timed out after {self.section_timeout:g}s",
                        "elapsedMs": _ms(began),
                    }
                except (SectionError, git.GitError) as exc:
                    return {"ok": False, "error": str(exc), "elapsedMs": _ms(began)}
                except Exception as exc:  # one broken section never fails the packet
                    return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "elapsedMs": _ms(began)}
                return {"ok": True, "data": _redacted(data), "elapsedMs": _ms(began)}

        # Start the slowest first: git processes are spawned one at a time on the loop, and
        # the diff's is the critical path. The packet keeps the order the client asked for.
        order = sorted(request.sections, key=START_ORDER.index)
        results = dict(zip(order, await asyncio.gather(*(run(name) for name in order)), strict=True))
        sections = {name: results[name] for name in request.sections}
        packet: dict[str, Any] = {"sessionId": session.id if session else None, "sections": sections}
        if request.format == "markdown":
            # The budget is the Markdown's; the sections carry the same (fitted) data.
            truncated = fit(
                sections, request.max_chars, lambda secs: len(markdown_text(session, secs)), _md_cost
            )
            markdown, cut = render_markdown(session, sections, request.max_chars)
            packet |= {"truncated": truncated or cut, "markdown": markdown}
        else:
            packet["truncated"] = fit(
                sections, request.max_chars, _size, _json_hunk_cost, lambda item: _size(item) + 1
            )
        return packet

    async def _session(self, session_id: str | None) -> Session | None:
        if session_id is not None:
            return await self.scribe.get_session(session_id)
        return await self.scribe.current_session()

    # -- sections ---------------------------------------------------------------------------

    def _require_repo(self, repo: RepoFacts) -> None:
        # A plain directory inside some other repository must not report that repository.
        if repo.dirs is None:
            raise SectionError(f"{self.scribe.root} is not a git repository")

    async def _section_session(self, session: Session | None) -> Any:
        if session is None:
            return None
        # The worklog's path is plumbing for editors; in a budgeted packet it only costs room.
        data = session.to_wire()
        del data["worklogPath"]
        return data

    async def _section_git(self, repo: RepoFacts) -> Any:
        self._require_repo(repo)
        status = await git.status(self.scribe.root)
        files = [
            {"path": f.path, "status": f.status, "staged": f.staged}
            | ({"from": f.orig_path} if f.orig_path else {})
            for f in status.files
            if not f.path.startswith(".scribe/")
        ]
        return {
            "branch": status.branch,
            "head": status.head,
            "detached": status.branch is None and status.head is not None,
            "upstream": status.upstream,
            "ahead": status.ahead,
            "behind": status.behind,
            "changedFiles": len(files),
            "files": files[:MAX_LISTED_FILES],
        }

    async def _section_diff(self, repo: RepoFacts) -> Any:
        self._require_repo(repo)
        # Diff and status side by side (the untracked files come from status); the git
        # section asks for the same status, and concurrent identical calls share a process.
        # The diff is the packet's critical path and every process start blocks the loop for
        # a moment: awaiting it inline puts its start ahead of the status's and the log's.
        status_call = asyncio.ensure_future(git.status(self.scribe.root))
        try:
            diff = await git.work_tree_diff(self.scribe.root, git.diff_base(repo.head))
        except BaseException:
            status_call.cancel()
            raise
        status = await status_call
        files = [{"path": p, "added": a, "deleted": d} for p, a, d in diff.files]
        files += [
            {"path": f.path, "added": None, "deleted": None, "untracked": True}
            for f in status.files
            if f.status == "untracked" and not f.path.startswith(".scribe/")
        ]
        return {
            "files": files,
            "hunks": [{"path": h.path, "text": h.text, "changed": h.changed} for h in diff.hunks],
            "omitted": [],
            "cut": diff.cut,
        }

    async def _section_commits(self, repo: RepoFacts) -> Any:
        self._require_repo(repo)
        if repo.head is None:
            return []  # no commits yet
        commits = await git.recent_commits(self.scribe.root, RECENT_COMMITS)
        return [{"sha": c.sha, "subject": c.subject, "author": c.author, "at": c.at} for c in commits]

    async def _section_worklog(self, session: Session | None) -> Any:
        if session is None:
            return []
        entries = await self.scribe.recent_entries(session.id, RECENT_ENTRIES)
        return [
            {
                "id": e.id,
                "at": e.at,
                "kind": e.kind,
                "text": e.text[:MAX_ENTRY_TEXT],
                "files": list(e.files[:10]),
            }
            for e in entries
        ]

    async def _section_summary(self, session: Session | None) -> Any:
        if session is None:
            return None
        return (await self.scribe.summary_counts(session.id)).to_wire()

    async def _section_sessions(self, session: Session | None) -> Any:
        others = await self.scribe.overlapping_sessions(session.id if session else None)
        return [other.to_wire() for other in others]


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


def _redacted(value: Any) -> Any:
    """``value`` with every string redacted. One test over all its strings first: most
    sections hold no secret-shaped word at all, and then nothing is copied or scanned twice."""
    strings: list[str] = []
    _collect_strings(value, strings)
    if not may_hold_secret("\x00".join(strings)):
        return value
    return _redact_each(value)


def _collect_strings(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, into)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, into)


def _redact_each(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_each(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_each(v) for k, v in value.items()}
    return value


# -- budget -------------------------------------------------------------------------------


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _json_hunk_cost(hunk: dict[str, Any]) -> int:
    """What a hunk adds to the JSON, without encoding it (this runs once per hunk): its
    text and path, one more character per escaped newline, quote, backslash or tab, the
    keys, and the list's comma. Rarer escapes make it short; ``fit`` re-measures for that."""
    text = hunk["text"]
    escapes = text.count("\n") + text.count('"') + text.count("\\") + text.count("\t")
    return len(text) + escapes + len(hunk["path"]) + len(str(hunk["changed"])) + 33


def _md_cost(hunk: dict[str, Any]) -> int:
    return len(hunk["text"]) + len(hunk["path"]) + 20  # the fence and the file line


def fit(
    sections: dict[str, dict[str, Any]],
    max_chars: int,
    measure: Callable[[dict[str, dict[str, Any]]], int],
    hunk_cost: Callable[[dict[str, Any]], int],
    item_cost: Callable[[Any], int] = lambda _: 1,
) -> bool:
    """Shrink section data in place until ``measure(sections)`` fits ``max_chars``.

    ``hunk_cost`` and ``item_cost`` estimate what one diff hunk or one list item adds to
    the measure; estimates only decide how much to try, ``measure`` has the last word.

    Order: diff hunks first (whole hunks only, the most changed lines first, while they
    fit), then the oldest worklog entries, older commits, long file lists, other sessions;
    at a tiny budget whole sections are left out, saying so. True if anything was cut."""
    truncated = False
    size: int | None = None  # measure(sections) as the data stands now; None: not known
    diff = sections.get("diff")
    if diff and diff.get("ok"):
        data = diff["data"]
        # (position in the diff, hunk), most changed lines first.
        ranked = sorted(enumerate(data["hunks"]), key=lambda item: -item[1]["changed"])
        data["hunks"] = []
        data["omitted"] = sorted({hunk["path"] for _, hunk in ranked})  # worst case, to reserve room
        room = max_chars - measure(sections)
        kept: list[tuple[int, dict[str, Any]]] = []
        for index, hunk in ranked:
            cost = hunk_cost(hunk)
            if cost <= room:
                kept.append((index, hunk))
                room -= cost

        def place() -> None:
            data["hunks"] = [hunk for _, hunk in sorted(kept, key=lambda item: item[0])]  # diff order
            kept_at = {index for index, _ in kept}
            left_out = {hunk["path"] for index, hunk in ranked if index not in kept_at}
            data["omitted"] = sorted(left_out)  # files with at least one hunk left out

        place()
        size = measure(sections)
        while kept and size > max_chars:  # estimates were short: drop the least changed
            kept.remove(min(kept, key=lambda item: item[1]["changed"]))
            place()
            size = measure(sections)
        truncated = len(kept) < len(ranked) or data.get("cut", False)
    if size is None:
        size = measure(sections)
    if size <= max_chars:
        return truncated  # the usual case: no further trimming
    shrinkers: list[tuple[str, str | None]] = [
        ("worklog", None),
        ("commits", None),
        ("git", "files"),
        ("diff", "files"),
        ("sessions", None),
    ]
    for name, key in shrinkers:
        section = sections.get(name)
        if size <= max_chars:
            break
        if not section or not section.get("ok"):
            continue
        items = section["data"] if key is None else section["data"][key]
        while size > max_chars and isinstance(items, list) and items:
            # Oldest entries, least recent commits: as many as their estimated size says
            # are needed (at least one), then measure again; not one measurement per item.
            freed = 0
            while items and freed < size - max_chars:
                freed += item_cost(items.pop(0 if name == "worklog" else -1))
            truncated = True
            size = measure(sections)
    while size > max_chars:
        # Still over (tiny budget): drop whole sections, last first, saying so.
        for name in reversed(list(sections)):
            if sections[name].get("ok") and sections[name].get("data") is not None:
                sections[name] = {"ok": False, "error": "left out to fit maxChars"}
                truncated = True
                break
        else:
            break
        size = measure(sections)
    return truncated


def render_markdown(
    session: Session | None, sections: dict[str, dict[str, Any]], max_chars: int
) -> tuple[str, bool]:
    """A packet for a person or an LLM, never longer than ``max_chars``; True if cut."""
    text = markdown_text(session, sections)
    if len(text) <= max_chars:
        return text, False
    keep = max(0, max_chars - len(TRUNCATED))
    cut = text[:keep]
    if "\n" in cut:
        cut = cut[: cut.rindex("\n")]
    return (cut + TRUNCATED)[:max_chars], True


def markdown_text(session: Session | None, sections: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    title = f"{session.backlog_id or session.id}: {session.title}" if session else "no current session"
    parts.append(f"# Context — {title}\n")
    for name, section in sections.items():
        if not section.get("ok"):
            parts.append(f"## {name.title()}\n\n_unavailable: {section.get('error')}_\n")
            continue
        parts.append(_MARKDOWN[name](section["data"]))
    return "\n".join(p for p in parts if p)


def _md_session(data: Any) -> str:
    if not data:
        return "## Session\n\nNo current session.\n"
    stats = data["stats"]
    tags = f", tags {', '.join(data['tags'])}" if data["tags"] else ""
    return (
        f"## Session\n\n{data['backlogId'] or '-'} · {data['status']} · branch {data['branch'] or '-'}"
        f" · {stats['activeSeconds'] // 60} min active · {stats['entries']} entries · "
        f"{stats['filesChanged']} files{tags}\n"
    )


def _md_git(data: Any) -> str:
    head = (data["head"] or "no commits")[:10]
    upstream = f", upstream {data['upstream']} +{data['ahead']}/-{data['behind']}" if data["upstream"] else ""
    lines = [
        f"## Git\n\n{data['branch'] or '(detached)'} @ {head}{upstream}; {data['changedFiles']} changed\n"
    ]
    lines += [f"- {f['status']}: {f['path']}" for f in data["files"]]
    return "\n".join(lines) + "\n"


def _md_diff(data: Any) -> str:
    lines = ["## Diff\n", "| file | + | - |", "| --- | --- | --- |"]
    for f in data["files"]:
        added = "new" if f.get("untracked") else ("bin" if f["added"] is None else f["added"])
        deleted = "" if f.get("untracked") else ("bin" if f["deleted"] is None else f["deleted"])
        lines.append(f"| {f['path']} | {added} | {deleted} |")
    for hunk in data["hunks"]:
        lines += ["", f"`{hunk['path']}`", "```diff", hunk["text"], "```"]
    if data["omitted"]:
        lines += ["", f"Hunks left out to fit: {', '.join(data['omitted'])}"]
    return "\n".join(lines) + "\n"


def _md_commits(data: Any) -> str:
    if not data:
        return "## Recent commits\n\nNone.\n"
    lines = ["## Recent commits\n"] + [
        f"- {c['sha'][:7]} {c['subject']} ({c['author']}, {c['at'][:10]})" for c in data
    ]
    return "\n".join(lines) + "\n"


def _md_worklog(data: Any) -> str:
    if not data:
        return "## Worklog\n\nNo entries.\n"
    lines = ["## Worklog\n"]
    for e in data:
        text = e["text"].replace("\n", " ")
        lines.append(f"- {e['at'][11:16]} {e['kind']}: {text}")
    return "\n".join(lines) + "\n"


def _md_summary(data: Any) -> str:
    if not data:
        return "## Summary\n\nNo session.\n"
    lines = [f"## Summary\n\n{data['entries']} entries, {data['filesChanged']} files changed"]
    for label, key in (("Decisions", "decisions"), ("Ideas", "ideas"), ("Open todos", "todos")):
        if data[key]:
            lines.append(f"\n{label}:")
            lines += [f"- {t}" for t in data[key]]
    return "\n".join(lines) + "\n"


def _md_sessions(data: Any) -> str:
    if not data:
        return "## Other active sessions\n\nNone.\n"
    lines = ["## Other active sessions\n"]
    for s in data:
        shared = f" — also touched: {', '.join(s['sharedFiles'][:10])}" if s["sharedFiles"] else ""
        lines.append(f"- {s['backlogId'] or s['id']} ({s['title']}, branch {s['branch'] or '-'}){shared}")
    return "\n".join(lines) + "\n"


_MARKDOWN: dict[str, Callable[[Any], str]] = {
    "session": _md_session,
    "git": _md_git,
    "diff": _md_diff,
    "commits": _md_commits,
    "worklog": _md_worklog,
    "summary": _md_summary,
    "sessions": _md_sessions,
}
