"""The context packet (``scribe/getContext``): sections fetched in parallel, cached, budgeted.

Each section is one coroutine; they run concurrently under a semaphore, each with its own
timeout, and a failing section becomes ``{ok: false, error}`` without failing the others.
The packet is cached per (session, sections, budget, format) until something changes: the
service bumps a generation number on every notification it emits (entries, session changes,
work-tree activity, relayed changes from other processes), which covers new entries, saved
files and HEAD moves. Only services that watch (servers, ``live``) cache; an in-process
``Scribe`` that watches nothing always reads afresh.

The budget (``budget.py``) and the Markdown (``markdown.py``) are applied to what the
sections fetched.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from ..core.agent_work import last_agent_turn
from ..core.operations import MAX_FILE_AUTHORS
from ..core.timesheet import PERSON
from ..git import commands as git
from ..markdown import DATA_NOTICE, inline
from ..model import Entry, Session
from .budget import fit, json_hunk_cost, markdown_hunk_cost, redacted, size, to_json
from .changed_since import files_changed_since, names_files
from .delta import Remembered, counters, delta_sections, etag_of
from .markdown import markdown_text, render_markdown, section_markdown
from .request import ContextRequest, widest_envelope
from .source import ContextSource, Extra, Once, RepoFacts, SectionError, once, repo_facts
from .tokens import ESTIMATOR, estimate_tokens

START_ORDER = ("diff", "git", "commits", "sessions", "worklog", "summary", "session")
TREE_SECTIONS = frozenset({"git", "diff", "commits"})  # what git says; the rest is the store's
SECTION_TIMEOUT = 5.0
MAX_CONCURRENT_SECTIONS = 4
CACHE_TTL = 30.0  # active time keeps counting; do not serve a stale clock for long
CACHE_SIZE = 64
MAX_LISTED_FILES = 200
RECENT_COMMITS = 10  # the repository's own history, where the branch has no base
BRANCH_COMMITS = 50  # a branch's commits since its base, newest first (the rest counted)
RECENT_ENTRIES = 20
MAX_ENTRY_TEXT = 500


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
        # Each section's last result, for when the packet cache missed because something
        # moved that this section does not show: (name, session id) -> (whether it follows
        # the work tree, what it depends on, when, result).
        self._sections: dict[tuple[str, str | None], tuple[bool, tuple[Any, ...], float, dict[str, Any]]] = {}
        self._remembered = Remembered()

    async def get(self, request: ContextRequest) -> dict[str, Any]:
        """The packet, or with ``since`` what changed since that packet (a full packet,
        ``full: true``, when that etag is not remembered)."""
        started = time.perf_counter()
        packet, cached = await self._full(replace(request, since=None))
        if request.since is not None:
            shape = self._shape(request, packet)
            base = self._remembered.get(request.since, shape)
            delta = self._delta(request, packet, base) if base is not None else None
            if delta is not None and self._within_budget(request, delta):
                return {**delta, "cached": cached, "elapsedMs": _ms(started)}
        return {**packet, "full": True, "cached": cached, "elapsedMs": _ms(started)}

    @staticmethod
    def _within_budget(request: ContextRequest, delta: dict[str, Any]) -> bool:
        """A delta holds at most what its packet does, but its removals are listed: one that
        would not fit the budget is answered with the full packet instead."""
        text = delta["markdown"] if request.format == "markdown" else to_json(delta)
        over_tokens = request.max_tokens is not None and delta["tokens"] > request.max_tokens
        return len(text) + 64 <= request.max_chars and not over_tokens  # 64: cached, elapsedMs

    @staticmethod
    def _shape(request: ContextRequest, packet: dict[str, Any]) -> str:
        """What must match for one packet to be the base of another's delta."""
        budget = f"{request.max_chars}/{request.max_tokens}"
        return f"{packet['sessionId']}|{','.join(request.sections)}|{request.format}|{budget}"

    async def _full(self, request: ContextRequest) -> tuple[dict[str, Any], bool]:
        generation = self.scribe.generation
        cacheable = self.scribe.watching
        hit = self._cache.get(request) if cacheable else None
        if hit is not None and hit[0] == generation and time.monotonic() - hit[1] < CACHE_TTL:
            return hit[2], True
        packet = await self._build(request)
        shape = self._shape(request, packet)
        # What the packet says, already encoded while counting its tokens: hashed, not
        # encoded again.
        packet["etag"] = etag_of(shape, packet.pop("_content"))
        self._remembered.keep(packet["etag"], shape, packet["sections"])
        if cacheable and self.scribe.generation == generation:  # nothing changed meanwhile
            if len(self._cache) >= CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))
            self._cache[request] = (generation, time.monotonic(), packet)
        return packet, False

    def _delta(self, request: ContextRequest, packet: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        changed, unchanged = delta_sections(base, packet["sections"])
        delta: dict[str, Any] = {
            "sessionId": packet["sessionId"],
            "etag": packet["etag"],
            "since": request.since,
            "full": False,
            "sections": changed,
            "unchanged": unchanged,
            "stats": counters(packet["sections"]),
            "truncated": packet["truncated"],
            "tokenEstimator": ESTIMATOR,
        }
        if request.format == "markdown":
            parts = [f"# Context changes since {inline(request.since)}\n", DATA_NOTICE]
            for name, section in changed.items():
                parts.append(section_markdown(name, section))
                for field, keys in section.get("removed", {}).items():
                    parts.append(f"Gone from {name} ({field}): {inline(', '.join(map(str, keys)))}\n")
            if not changed:
                parts.append("Nothing changed.\n")
            delta["markdown"] = "\n".join(parts)
            delta["tokens"] = estimate_tokens(delta["markdown"])
        else:
            delta["tokens"] = estimate_tokens(to_json(changed))
        return delta

    def _depends(self, name: str, repo: RepoFacts, follows_tree: bool) -> tuple[Any, ...]:
        """What a cached section must still match to be served again: the work tree's
        generation and HEAD for what follows the tree (git's sections, a worklog that marks
        files changed since), as read for this packet so a commit nobody was told of still
        shows; the store's generation for the rest."""
        tree = (self.scribe.tree_generation, repo.head)
        if name in TREE_SECTIONS:
            return tree
        return (self.scribe.store_generation, *(tree if follows_tree else ()))

    async def _build(self, request: ContextRequest) -> dict[str, Any]:
        # The session (store thread) and where the repository is and what HEAD is (one
        # worker-thread hop), once per packet and side by side: both precede every section.
        session, repo = await asyncio.gather(
            self._session(request.session_id), asyncio.to_thread(repo_facts, self.scribe.root)
        )
        # parallel_context = false: one section after another (a flag to compare, or to
        # spare a slow disk).
        slots = asyncio.Semaphore(self.concurrency if self.scribe.config.parallel_context else 1)
        # Where the branch left its base: found once, for the three sections that show it;
        # the session's newest entries: read once, for the two that show them.
        session_id = session.id if session else None
        base = once(lambda: self._branch_base(repo))
        recent = once(lambda: self.scribe.recent_entries(session_id or "", RECENT_ENTRIES))

        fetchers: dict[str, Callable[[], Awaitable[Any]]] = {
            "session": lambda: self._section_session(session, recent),
            "git": lambda: self._section_git(repo, base()),
            "diff": lambda: self._section_diff(repo, base()),
            "commits": lambda: self._section_commits(repo, base()),
            "worklog": lambda: self._section_worklog(session, repo, recent),
            "summary": lambda: self._section_summary(session),
            "sessions": lambda: self._section_sessions(session),
        }

        async def run(name: str) -> dict[str, Any]:
            result = await cached_or_fetched(name)
            if name == "diff" and session is not None and result["ok"]:
                # Who changed each file is the store's, not git's: said on every packet,
                # also over a diff served from the cache (an agent's hook entry lands after
                # its save moved the tree).
                await self._say_who_changed(result["data"]["files"], session)
            return result

        async def cached_or_fetched(name: str) -> dict[str, Any]:
            hit = self._sections.get((name, session_id)) if self.scribe.watching else None
            if hit is not None:
                follows_tree, depends, at, kept = hit
                if depends == self._depends(name, repo, follows_tree) and time.monotonic() - at < CACHE_TTL:
                    # A copy: the budget shrinks section data in place.
                    return {**copy.deepcopy(kept), "cached": True}
            # What it shows may move with the tree: known before (git's sections), or from
            # the result (a worklog whose decisions name files it marks as changed since).
            before = self._depends(name, repo, True)
            result = await fetch(name)
            follows_tree = name in TREE_SECTIONS or (name == "worklog" and names_files(result))
            if self.scribe.watching and result["ok"] and self._depends(name, repo, True) == before:
                if len(self._sections) >= CACHE_SIZE:
                    self._sections.pop(next(iter(self._sections)))
                depends = self._depends(name, repo, follows_tree)
                self._sections[(name, session_id)] = (
                    follows_tree,
                    depends,
                    time.monotonic(),
                    copy.deepcopy(result),
                )
            return result

        async def fetch(name: str) -> dict[str, Any]:
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
                keys = {}
                if isinstance(data, Extra):
                    data, keys = data.data, redacted(data.keys)
                return {"ok": True, "data": redacted(data), **keys, "elapsedMs": _ms(began)}

        # Start the slowest first: git processes are spawned one at a time on the loop, and
        # the diff's is the critical path. The packet keeps the order the client asked for.
        order = sorted(request.sections, key=START_ORDER.index)
        results = dict(zip(order, await asyncio.gather(*(run(name) for name in order)), strict=True))
        sections = {name: results[name] for name in request.sections}
        packet: dict[str, Any] = {"sessionId": session.id if session else None, "sections": sections}
        tokens = request.max_tokens
        if request.format == "markdown":
            # The budget is the Markdown's; the sections carry the same (fitted) data.
            truncated = fit(
                sections,
                request.max_chars,
                lambda secs: len(markdown_text(session, secs)),
                markdown_hunk_cost,
            )
            if tokens is not None:
                truncated |= fit(
                    sections,
                    tokens,
                    lambda secs: estimate_tokens(markdown_text(session, secs)),
                    lambda hunk: estimate_tokens(hunk["text"]) + estimate_tokens(hunk["path"]) + 8,
                    lambda item: estimate_tokens(to_json(item)),
                )
            markdown, cut = render_markdown(session, sections, request.max_chars, tokens)
            packet |= {
                "truncated": truncated or cut,
                "markdown": markdown,
                "tokens": estimate_tokens(markdown),
            }
            # Beside the sections, not in them: the budget measured the sections as they are.
            # Each section's cost in the packet's own units (its Markdown: tokens and
            # characters); what the sections leave of the text is its title and notice.
            said = {name: section_markdown(name, section, session) for name, section in sections.items()}
            packet["sectionTokens"] = {name: estimate_tokens(text) for name, text in said.items()}
            packet["sectionChars"] = {name: len(text) for name, text in said.items()}
            packet["_content"] = markdown + to_json(
                {n: s.get("data", s.get("error")) for n, s in sections.items()}
            )
        else:
            # The budget bounds the whole answer a client reads: the sections and, around
            # them, the packet's own keys (etag, tokens, ...), reserved at their widest.
            envelope = widest_envelope(packet["sessionId"], sections)
            room = request.max_chars - size(envelope)
            truncated = fit(sections, room, size, json_hunk_cost, lambda item: size(item) + 1)
            if tokens is not None:
                truncated |= fit(
                    sections,
                    tokens - estimate_tokens(to_json(envelope)),
                    lambda secs: estimate_tokens(to_json(secs)),
                    lambda hunk: estimate_tokens(hunk["text"]) + estimate_tokens(hunk["path"]) + 12,
                    lambda item: estimate_tokens(to_json(item)) + 1,
                )
            packet["truncated"] = truncated
            # One pass over each section's JSON: the estimate of the whole is the sum of its
            # parts, since the pieces between them ({ " : , }) are tokens of their own.
            encoded = {name: to_json(section) for name, section in sections.items()}
            counted = {name: estimate_tokens(text) for name, text in encoded.items()}
            packet["sectionTokens"] = counted
            packet["_content"] = "\0".join(f"{name}\0{text}" for name, text in encoded.items())
            punctuation = 2 + max(0, len(counted) - 1)  # the braces and the commas between
            packet["tokens"] = punctuation + sum(
                estimate_tokens(f'"{name}":') + tokens for name, tokens in counted.items()
            )
        packet["tokenEstimator"] = ESTIMATOR
        return packet

    async def _session(self, session_id: str | None) -> Session | None:
        if session_id is not None:
            return await self.scribe.get_session(session_id)
        return await self.scribe.current_session()

    # -- sections ---------------------------------------------------------------------------

    def _require_repo(self, repo: RepoFacts) -> None:
        # A plain directory inside some other repository must not report that repository.
        if repo.dirs is None:
            raise SectionError(repo.refused or f"{self.scribe.root} is not a git repository")

    async def _section_session(self, session: Session | None, recent: Once[list[Entry]]) -> Any:
        if session is None:
            return None
        # The worklog's path is plumbing for editors; in a budgeted packet it only costs room.
        data = session.to_wire()
        del data["worklogPath"]
        # A coding agent's last turn (its hooks' entries): what it was asked, what it did.
        turn = last_agent_turn(await asyncio.shield(recent()))  # a timeout ends this wait only
        if turn is not None:
            data["lastAgentTurn"] = turn
        return data

    async def _branch_base(self, repo: RepoFacts) -> git.BranchBase | None:
        if repo.dirs is None or repo.head is None:
            return None
        return await git.branch_base(self.scribe.root, repo.branch, self.scribe.config.base_branch)

    async def _section_git(self, repo: RepoFacts, base: Awaitable[git.BranchBase | None]) -> Any:
        self._require_repo(repo)
        status, found = await asyncio.gather(git.status(self.scribe.root), base)
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
            "base": None
            if found is None
            else {
                "name": found.name,
                "mergeBase": found.merge_base,
                "ahead": found.ahead,
                "behind": found.behind,
            },
        }

    async def _section_diff(self, repo: RepoFacts, base: Awaitable[git.BranchBase | None]) -> Any:
        """The branch's whole work: the work tree against where the branch left its base
        (committed and not, each file saying which), or against HEAD without a base."""
        self._require_repo(repo)
        root = self.scribe.root
        # Diff and status side by side (the untracked files come from status); the git
        # section asks for the same status, and concurrent identical calls share a process.
        status_call = asyncio.ensure_future(git.status(root))
        try:
            found = await base
            against = found.merge_base if found else git.diff_base(repo.head)
            diff, committed = await asyncio.gather(
                git.work_tree_diff(root, against),
                git.changed_since(root, found.merge_base) if found else _nothing(),
            )
        except BaseException:
            status_call.cancel()
            raise
        status = await status_call
        dirty = {f.path for f in status.files} | {f.orig_path for f in status.files if f.orig_path}

        def state(path: str) -> str:
            if path in committed:
                return "committed, and changed since" if path in dirty else "committed"
            return "uncommitted"

        files: list[dict[str, Any]] = [
            {"path": p, "added": a, "deleted": d, "state": state(p)} for p, a, d in diff.files
        ]
        files += [
            {"path": f.path, "added": None, "deleted": None, "untracked": True}
            for f in status.files
            if f.status == "untracked" and not f.path.startswith(".scribe/")
        ]
        data = {
            "files": files,
            "hunks": [{"path": h.path, "text": h.text, "changed": h.changed} for h in diff.hunks],
            "omitted": [],
            "cut": diff.cut,
        }
        return Extra(data, {"since": found.name}) if found else data

    async def _say_who_changed(self, files: list[dict[str, Any]], session: Session) -> None:
        """Once a coding agent changed files of the diff: who changed each (``by``: person,
        the agents' names, as their saves and hooks recorded; empty where none was seen)."""
        if not files:
            return
        asked = files[:MAX_FILE_AUTHORS]  # a diff that long is cut by any budget first
        authors = await self.scribe.file_authors(session.id, [f["path"] for f in asked])
        if any(name != PERSON for names in authors.values() for name in names):
            for f in asked:
                f["by"] = authors.get(f["path"], [])

    async def _section_commits(self, repo: RepoFacts, base: Awaitable[git.BranchBase | None]) -> Any:
        """The branch's commits since it left its base (counted past the newest 50); the
        repository's last ten where there is no base."""
        self._require_repo(repo)
        if repo.head is None:
            return []  # no commits yet
        found = await base
        if found is None:
            commits = await git.recent_commits(self.scribe.root, RECENT_COMMITS)
        else:
            commits = await git.commits_between(self.scribe.root, found.merge_base, BRANCH_COMMITS)
        data = [{"sha": c.sha, "subject": c.subject, "author": c.author, "at": c.at} for c in commits]
        return Extra(data, {"since": found.name, "total": found.ahead}) if found else data

    async def _section_worklog(
        self, session: Session | None, repo: RepoFacts, recent: Once[list[Entry]]
    ) -> Any:
        if session is None:
            return []
        entries = await asyncio.shield(recent())
        changed = await files_changed_since(self.scribe.root, entries) if repo.dirs is not None else {}
        return [
            {
                "id": e.id,
                "at": e.at,
                "kind": e.kind,
                "text": e.text[:MAX_ENTRY_TEXT],
                "files": list(e.files[:10]),
            }
            | ({"author": e.author} if e.author else {})  # an agent's entry says whose it is
            | ({"changedSince": changed[e.id]} if changed.get(e.id) else {})
            for e in entries
        ]

    async def _section_summary(self, session: Session | None) -> Any:
        if session is None:
            return None
        return (await self.scribe.summary_counts(session.id)).to_wire()

    async def _section_sessions(self, session: Session | None) -> Any:
        others = await self.scribe.overlapping_sessions(session.id if session else None)
        here = str(self.scribe.root)
        return [{**other.to_wire(), "linkedWorktree": other.root != here} for other in others]


async def _nothing() -> set[str]:
    return set()


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
