"""The upkeep verbs: ``validate`` (the store and the worklogs agree; ``--fix`` renders them
again) and ``compact`` (old activity rolled up, free pages given back)."""

from __future__ import annotations

import argparse

from ..core.operations import Ledger
from .output import print_json


def validate(ledger: Ledger, args: argparse.Namespace) -> int:
    store, worklogs = ledger.store, ledger.worklogs
    problems = store.integrity_check()
    quarantined = [str(store.dir / name) for name in store.layout.quarantined()]
    fixed = []
    for key in store.worklog_keys():
        path = worklogs.path(key)
        actual = store.layout.read_text(path)
        if actual == worklogs.expected(key):
            continue
        if args.fix:
            worklogs.render(key, full=True)  # whole: an append cannot fix a file out of step
            if store.layout.read_text(path) == worklogs.expected(key):
                fixed.append(str(path))
            else:
                problems.append(f"{path}: differs from the store, and rendering it again did not fix it")
        else:
            problems.append(f"{path}: {'missing' if actual is None else 'differs from the store'}")
    for key, found in worklogs.orphans():
        # Nothing to render them from: said, kept as they are (fixing cannot make entries).
        problems.append(f"{worklogs.path(key)}: {found}")
    size = store.size_report()
    if args.json:
        print_json(
            {
                "ok": not problems,
                "problems": problems,
                "fixed": fixed,
                "quarantined": quarantined,
                "size": size,
            }
        )
    else:
        for line in problems:
            print(f"problem: {line}")
        for line in fixed:
            print(f"fixed: {line}")
        for line in quarantined:
            print(f"quarantined: {line} (a damaged store moved aside; see scribe-ls import)")
        if not problems:
            print(f"ok: store {store.path} and worklogs are consistent")
        per_entry = f", {size['bytesPerEntry']:,} bytes per entry" if size["bytesPerEntry"] else ""
        print(
            f"size: {_mib(size['bytes'])} ({size['entries']:,} entries{per_entry}),"
            f" {size['freePercent']}% free pages, WAL {_mib(size['walBytes'])}"
        )
    return 0 if not problems else 1


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def compact_store(ledger: Ledger, args: argparse.Namespace) -> int:
    from ..core.compaction import DEFAULT_DAYS, compact

    days = DEFAULT_DAYS if args.older_than is None else args.older_than
    done = compact(ledger.store, ledger.worklogs, days, dry_run=args.dry_run, vacuum=args.vacuum)
    if args.json:
        print_json(done.to_wire())
        return 0
    verb = "would roll up" if args.dry_run else "rolled up"
    print(
        f"{verb} {done.entries_removed + done.rollups:,} activity entries older than {days} days"
        f" (before {done.before[:10]}) into {done.rollups:,}, in {done.sessions:,} sessions"
    )
    before, after = done.size_before, done.size_after
    print(
        f"entries: {before['entries']:,} -> {after['entries']:,}; size: {_mib(before['bytes'])}"
        f" -> {_mib(after['bytes'])}, {after['freePercent']}% free pages"
    )
    for key in done.worklogs if not args.dry_run else ():
        print(f"rendered again: {ledger.worklogs.path(key)}")
    return 0
