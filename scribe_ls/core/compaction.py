"""``scribe-ls compact``: old activity entries become one roll-up per session and local day.

The recorder writes an ``activity`` entry per burst of saves (``Changes: N file(s)``), so
years of work are mostly those. Past ``older_than_days`` each session's activity entries
of one local day become one: the day's first entry, rewritten to say how many entries and
changed files it stands for, with every distinct text of the ones it replaces (a search
that found one of them finds the roll-up) and their files. Nothing else changes: notes,
decisions, commits and the rest stay as they were; time per item comes from the daily
time roll-ups and the files a session touched from its own table, so totals are kept.
The search index follows through triggers, the worklogs are rendered again, and the
freed pages go back to the file system a step at a time (incremental vacuum).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..contract.rules import MAX_TEXT
from ..errors import InvalidParams
from ..model import Entry, iso, parse_iso, utc_now
from ..store.database import Store
from ..worklog.files import Worklogs
from .timesheet import local_day

DEFAULT_DAYS = 90
MAX_DAYS = 36_500  # a century: further back than any store, and a date Python can still make
MAX_ROLLUP_FILES = 50  # the files listed on a roll-up (a session keeps all it touched)
GROUPS_PER_COMMIT = 200  # roll-ups per transaction: short locks, few fsyncs
VACUUM_STEP_PAGES = 2000  # pages per incremental-vacuum write (8 MiB of 4 KiB pages)

_CHANGES = re.compile(r"Changes: (\d+) file\(s\)")


@dataclass
class Compaction:
    """What a compaction did (or, dry, would do)."""

    older_than_days: int
    before: str
    entries_removed: int = 0
    rollups: int = 0
    sessions: int = 0
    worklogs: list[str] = field(default_factory=list)
    size_before: dict[str, Any] = field(default_factory=dict)
    size_after: dict[str, Any] = field(default_factory=dict)
    vacuumed: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "olderThanDays": self.older_than_days,
            "before": self.before,
            "entriesBefore": self.size_before.get("entries", 0),
            "entriesRemoved": self.entries_removed,
            "rollups": self.rollups,
            "sessions": self.sessions,
            "worklogs": self.worklogs,
            "sizeBefore": self.size_before,
            "sizeAfter": self.size_after,
            "vacuumed": self.vacuumed,
        }


def rollup_text(day: str, entries: list[Entry]) -> str:
    """One line saying what the day's ``entries`` were, then each distinct text of them."""
    changed = sum(int(m.group(1)) for e in entries if (m := _CHANGES.fullmatch(e.text)))
    head = f"Activity of {day}, compacted: {len(entries)} entries"
    if changed:
        head += f", {changed} file change(s)"
    distinct = list(dict.fromkeys(e.text for e in entries))
    text, kept = head, 0
    for line in distinct:
        if len(text) + len(line) + 40 > MAX_TEXT:
            break
        text += "\n" + line
        kept += 1
    if kept < len(distinct):
        text += f"\n(+{len(distinct) - kept} more)"
    return text


def compact(
    store: Store, worklogs: Worklogs, older_than_days: int, *, dry_run: bool = False, vacuum: bool = False
) -> Compaction:
    """Roll up the activity entries older than ``older_than_days`` (see the module);
    ``vacuum``: rewrite the whole file afterwards (what a store made before incremental
    vacuum needs once to give its free pages back)."""
    if (
        isinstance(older_than_days, bool)
        or not isinstance(older_than_days, int)
        or not 1 <= older_than_days <= MAX_DAYS
    ):
        raise InvalidParams("older_than_days", f"must be a whole number of days from 1 to {MAX_DAYS}")
    before = iso(utc_now() - timedelta(days=older_than_days))
    done = Compaction(older_than_days, before, size_before=store.size_report())
    keys: set[str] = set()
    pending: list[tuple[str, list[Entry], str]] = []  # (session, the day's entries, day)

    def flush() -> None:
        if not dry_run and pending:
            with store.grouped():
                for session_id, day_entries, day in pending:
                    files = list(dict.fromkeys(f for e in day_entries for f in e.files))[:MAX_ROLLUP_FILES]
                    drop = [e.id for e in day_entries[1:]]
                    store.roll_up(session_id, day_entries[0].id, rollup_text(day, day_entries), files, drop)
        pending.clear()

    for session_id in store.session_ids():
        by_day: dict[str, list[Entry]] = {}
        for entry in store.activity_before(session_id, before):
            day = local_day(parse_iso(entry.at).timestamp(), store.tz).isoformat()
            by_day.setdefault(day, []).append(entry)
        groups = [(day, entries) for day, entries in by_day.items() if len(entries) > 1]
        if not groups:
            continue
        done.sessions += 1
        keys.add(store.get_session(session_id).worklog_key)
        for day, entries in groups:
            done.rollups += 1
            done.entries_removed += len(entries) - 1
            pending.append((session_id, entries, day))
            if len(pending) >= GROUPS_PER_COMMIT:
                flush()
    flush()
    done.worklogs = sorted(keys)
    if not dry_run:
        for key in done.worklogs:
            worklogs.render(key, full=True)
        if vacuum:
            store.vacuum()
            done.vacuumed = True
        else:
            left = store.vacuum_step(VACUUM_STEP_PAGES)
            while left:  # a step at a time, each a short write; stop if one frees nothing
                freed_before, left = left, store.vacuum_step(VACUUM_STEP_PAGES)
                if left is not None and left >= freed_before:
                    break
    done.size_after = store.size_report()
    return done
