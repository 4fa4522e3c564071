"""The worklog files, ``.scribe/worklogs/<key>.md``, rendered from the store.

The store is the truth; a worklog is its readable copy in the legacy format. A render
appends the new entries' block to the file (a CLI append writes a few hundred bytes, not
the whole file) when the file is still exactly what the last render left, as its state
file ``.<key>.state`` records (size and mtime, last entry id and heading, written by
whichever process rendered last). Anything else (a first render, a file edited or torn by
a crash) renders the whole file again, through a temp file and a rename. Both give the
same bytes as a full render from the store. Renders of every process take one lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..lazylog import get_logger
from ..model import utc_now
from ..store.database import Store
from . import format as worklog

log = get_logger(__name__)


class Worklogs:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.layout = store.layout
        # Worklogs kept aside by this process, to tell: (key, where, what the store lacks).
        self.kept: list[tuple[str, Path, str]] = []

    def path(self, key: str) -> Path:
        return self.layout.worklog_path(key)

    def render(self, key: str, *, full: bool = False) -> Path:
        """Bring the worklog of ``key`` up to date with the store (``full``: render it all
        again, for when entries it already shows changed, as compaction changes them)."""
        path = self.path(key)
        with self.layout.locked(self.layout.render_lock_path):
            # Entries other processes added since the last render have higher ids, so
            # adding everything past its last id always gives the full, correct worklog.
            state = None if full else self._state(key)
            if state is not None and state[0] > self.store.last_entry_of(key):
                # The worklog shows entries past the store's newest: the store went back
                # (restored from a backup, emptied). New entries would sort before what the
                # file shows and never be appended: render it whole, the old one kept.
                log.warning("worklog %s shows entries up to %d, past the store's newest", key, state[0])
                state = None
            if state is not None:
                last_id, last_heading = state
                rows = self.store.worklog_items(key, after_id=last_id)
                if rows:
                    self.layout.append_text(path, worklog.block(last_heading, [item for _, item in rows]))
            else:
                rows = self.store.worklog_items(key)
                text = worklog.render(key, [item for _, item in rows])
                self._keep_if_not_ours(key, path, text)
                self.layout.write_atomic(path, text)
                last_id, last_heading = 0, ""
            if rows:
                last_id, last_heading = rows[-1][0], worklog.heading_time(rows[-1][1].at)
            self._save_state(key, last_id, last_heading)
        return path

    def _keep_if_not_ours(self, key: str, path: Path, text: str) -> None:
        """Before ``path`` is replaced with ``text``: if it holds what no render of ours
        wrote (edited by hand, or entries the store does not have), keep it beside, as
        ``<key>.md.kept-<UTC time>``. A file torn by a crash is a start of ``text``: not kept."""
        try:
            old = self.layout.read_text(path)
        except OSError:  # UnsafeStore included
            return  # a link planted in its place (never followed, replaced) or unreadable: nothing of ours
        if old is None or old == text or text.startswith(old):
            return
        stamp = utc_now().strftime("%Y%m%dT%H%M%SZ")
        kept = path.with_name(f"{path.name}.kept-{stamp}")
        self.layout.write_atomic(kept, old)
        missing = missing_entries(old, text)
        self.kept.append((key, kept, missing))
        log.warning("worklog %s kept as %s before rendering it again: %s", key, kept, missing)

    def orphans(self) -> list[tuple[str, str]]:
        """Worklogs on disk that show entries while the store has none of their key (the
        store was emptied, or an older one put back): (key, what it shows and what is done)."""
        known = self.store.last_entry_per_key()
        found = []
        for name in self.layout.list_names(self.layout.worklog_dir, ".md"):
            key = name.removesuffix(".md")
            if key in known:
                continue
            try:
                text = self.layout.read_text(self.path(key))
            except (OSError, ValueError):
                continue
            items = worklog.parse(text or "").items
            if items:
                found.append(
                    (
                        key,
                        f"shows {_lacking(items)} (the store was emptied or replaced by an older one);"
                        " the file is kept as it is",
                    )
                )
        return found

    def render_quietly(self, key: str) -> None:
        """:meth:`render`, for after a change is committed: the store already holds it, so
        a worklog that cannot be written now (a full disk) is only logged; it is rendered
        again at the next server start, or by ``scribe-ls validate --fix``."""
        try:
            self.render(key)
        except OSError as exc:
            log.warning("could not write worklog %s: %s", key, exc)

    def expected(self, key: str) -> str:
        """A full render from the store, ignoring what is on disk (used by ``validate``)."""
        return worklog.render(key, [item for _, item in self.store.worklog_items(key)])

    def stale_keys(self) -> list[str]:
        """Worklogs whose last render ended before the store's newest entry of that key, or
        that are missing: what a crash can leave behind."""
        stale = []
        for key, last in self.store.last_entry_per_key().items():
            state = self._read_state(key)
            try:
                rendered = int(state.get("lastId", 0)) if state is not None else None
            except (TypeError, ValueError):
                rendered = None
            # Behind the store (a crash), or ahead of it (an older store put back).
            if rendered is None or rendered != last or self.layout.stat(self.path(key)) is None:
                stale.append(key)
        return stale

    def _read_state(self, key: str) -> dict[str, Any] | None:
        try:
            state = json.loads(self.layout.read_text(self.layout.render_state_path(key)) or "null")
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) else None

    def _state(self, key: str) -> tuple[int, str] | None:
        """Where the last render ended, if the worklog is still exactly the file it wrote."""
        state = self._read_state(key)
        stat = self.layout.stat(self.path(key))
        if state is None or stat is None:
            return None
        try:
            if (stat.st_size, stat.st_mtime_ns) != (state["size"], state["mtimeNs"]):
                return None
            return int(state["lastId"]), str(state["lastHeading"])
        except (KeyError, TypeError, ValueError):
            return None

    def _save_state(self, key: str, last_id: int, last_heading: str) -> None:
        stat = self.layout.stat(self.path(key))
        if stat is None:
            return
        state = {
            "lastId": last_id,
            "lastHeading": last_heading,
            "size": stat.st_size,
            "mtimeNs": stat.st_mtime_ns,
        }
        # In place, not through a rename (a rename per append was a fifth of its cost): a
        # torn state file reads as no state, and no state means a full render.
        self.layout.overwrite(self.layout.render_state_path(key), json.dumps(state))


def _lacking(items: list[worklog.WorklogItem]) -> str:
    """``3 entries, from <first> to <last> UTC, that the store does not have``."""
    first, last = min(item.at for item in items), max(item.at for item in items)
    span = f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    return f"{len(items)} entries, {span}, that the store does not have"


EDITED_BY_HAND = "edited by hand (no entry is missing from the store)"


def missing_entries(old: str, new: str) -> str:
    """What a worklog about to be replaced shows that its new text does not: "3 entries,
    from ... to ..., that the store does not have", or that it was edited by hand."""
    have = {(item.at, item.text) for item in worklog.parse(new).items}
    lost = [item for item in worklog.parse(old).items if (item.at, item.text) not in have]
    return _lacking(lost) if lost else EDITED_BY_HAND
