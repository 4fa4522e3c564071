"""``scribe-ls share``, ``sync`` and ``team``: sharing this repository's sessions through
its own git remote (:mod:`scribe_ls.team.share`), and what the teammates' logs say."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..core.operations import Ledger
from ..errors import INVALID_PARAMS, STORE_UNAVAILABLE, ScribeError
from ..git.remote import Git, RemoteError
from ..team import records as rec
from ..team import share as sharing
from ..team import views
from .output import print_json


def _git(ledger: Ledger) -> Git:
    try:
        return Git(ledger.root)
    except RemoteError as exc:
        raise ScribeError(STORE_UNAVAILABLE, f"share: {exc}") from None


def share(ledger: Ledger, args: argparse.Namespace) -> int:
    git = _git(ledger)
    store = ledger.store
    if args.action == "on":
        try:
            on = sharing.turn_on(store, git, args.remote)
        except sharing.ShareError as exc:
            print(f"scribe-ls: share on: {exc}", file=sys.stderr)
            return 1
        print(f"sharing with {on.remote} ({on.url}) as {on.name} <{on.email}>, log {on.ref}")
        print("nothing is sent until `scribe-ls sync` (or the background recorder's next sync)")
        return 0
    if args.action == "off":
        was = sharing.turn_off(store)
        print("sharing turned off (what was pushed stays on the remote)" if was else "sharing was off")
        return 0
    try:
        on = sharing.sharing(store, git)
    except sharing.ShareError as exc:
        why = str(exc)
        if ledger.config.share and store.share_setting("consent") is None:
            why = "share = true in your config: the next sync turns it on, with origin"
        if args.json:
            print_json({"sharing": False, "why": why})
        else:
            print(f"sharing: off ({why})")
        return 0
    if args.dry_run:
        found = sharing.pending(store, on, prompts=ledger.config.share_prompts)
        if args.json:
            print_json({"ref": on.ref, "records": found})
        else:
            print(f"# the next sync writes {len(found)} records to {on.ref} on {on.remote} ({on.url}):")
            sys.stdout.write(rec.encode(found).decode())
        return 0
    status = {
        "sharing": True,
        "remote": on.remote,
        "url": on.url,
        "ref": on.ref,
        "lastSync": store.share_setting("synced_at"),
        "failures": int(store.share_setting("failures") or 0),
        "lastError": store.share_setting("last_error"),
    }
    if args.json:
        print_json(status)
    else:
        print(f"sharing with {on.remote} ({on.url}) as {on.name} <{on.email}>, log {on.ref}")
        if status["lastError"]:
            print(f"  last sync failed ({status['failures']} in a row): {status['lastError']}")
    return 0


def sync(ledger: Ledger, args: argparse.Namespace) -> int:
    try:
        config = ledger.config
        report = sharing.sync(
            ledger.store, ledger.root, prompts=config.share_prompts, everywhere=config.share
        )
    except (sharing.ShareError, RemoteError) as exc:
        print(f"scribe-ls: sync: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(report.to_wire())
    else:
        read = sum(report.imported.values())
        print(
            f"wrote {report.exported} records; read {read} from {len(report.imported)} logs;"
            f" {'pushed' if report.pushed else 'not pushed'}"
        )
        for overlap in report.overlaps:
            print(f"  {overlap['message']}")
        for warning in report.warnings[:20]:
            print(f"  skipped: {warning}")
    if report.error:
        print(f"scribe-ls: sync: {report.error} (kept here; the next sync sends it)", file=sys.stderr)
        return 1
    return 0


def _timeline(ledger: Ledger, args: argparse.Namespace) -> int:
    """One item's entries from every writer: this machine's, the author's other machines',
    the teammates'."""
    store = ledger.store
    if not 1 <= args.limit <= 1000:
        raise ScribeError(INVALID_PARAMS, "--limit: must be from 1 to 1000", {"field": "limit"})
    writers = store.writers()
    mine = store.my_author_id()
    rows = store.item_timeline(args.item, args.limit)
    for row in rows:
        known = writers.get(row["writer"] or "")
        row["who"] = "this machine" if known is None else views.identity(known)
        if known is not None and known["author_id"] == mine:
            row["who"] += " (your other machine)"
    if args.json:
        print_json({"item": args.item, "entries": rows})
        return 0
    if not rows:
        print(f"nothing recorded on {args.item} here or in the shared logs read so far")
    for row in rows:
        files = f" [{', '.join(row['files'][:3])}]" if row["files"] else ""
        print(f"{row['at'][:16].replace('T', ' ')}  {row['who']}  {row['kind']}: {row['text']}{files}")
    return 0


def team(ledger: Ledger, args: argparse.Namespace) -> int:
    if args.item is not None:
        return _timeline(ledger, args)
    people = ledger.team()["people"]
    if args.json:
        print_json({"people": people})
        return 0
    if not people:
        print("no teammates' sessions here yet (`scribe-ls share on`, then `scribe-ls sync`)")
        return 0
    for person in people:
        who = person["author"] + (" (you, other machines)" if person["you"] else "")
        if person["signed"]:
            who += " [signed]"
        if not person["verified"]:
            who += f" [pushed by {', '.join(str(p) for p in person['pushedBy'])}]"
        print(who)
        if not person["sessions"]:
            print("  no open session")
        for session in person["sessions"]:
            files = ", ".join(session["files"][:3]) + (
                f" +{session['fileCount'] - 3}" if session["fileCount"] > 3 else ""
            )
            print(
                f"  {session['item']} {session['status']} since {session['since'][:16].replace('T', ' ')}"
                f", last {str(session['lastActivityAt'] or '')[:16].replace('T', ' ')}"
                + (f": {files}" if files else "")
            )
    return 0


VERBS: dict[str, Callable[[Ledger, argparse.Namespace], int]] = {"share": share, "sync": sync, "team": team}
