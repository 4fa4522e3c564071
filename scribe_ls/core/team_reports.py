"""The team's reports, from this store and the shared logs read into it (scribe_ls/team):
time per teammate and item (``report time --by teammate``, the CLI's ``--team``), and the
team's stand-up (``report team``): per person, you first, the items worked on in the range
with their time, decisions and commits. A person's machines are one person."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..lazylog import escape_controls
from ..markdown import inline, table
from ..model import iso
from ..store.database import Store
from ..team.views import identity
from .reports import TimeReport, _day_start, duration
from .timesheet import TimeRow

YOU = "you"
MAX_LISTED = 10  # decisions and commits per item said


def _people(store: Store) -> tuple[str | None, dict[str, str]]:
    """This user's author id (when sharing was turned on) and each author's identity."""
    names: dict[str, str] = {}
    for row in store.writers().values():
        if row.get("email") or row["author_id"] not in names:
            names[row["author_id"]] = identity(row)
    return store.my_author_id(), names


def team_time(store: Store, since: date, until: date) -> TimeReport:
    """Time per person and item: this machine's (``you``, with this author's other
    machines), then each teammate's; a person's total is the sum of their machines'."""
    me, names = _people(store)
    mine: dict[str, float] = {row.item: row.seconds for row in store.time_rows(since, until, "item")}
    theirs: dict[tuple[str, str], float] = {}
    for row in store.team_time_rows(since.isoformat(), until.isoformat()):
        who = YOU if row["author_id"] == me else names.get(row["author_id"], row["author_id"])
        if who == YOU:
            mine[row["item"]] = mine.get(row["item"], 0.0) + row["seconds"]
        else:
            theirs[(who, row["item"])] = theirs.get((who, row["item"]), 0.0) + row["seconds"]
    rows = [
        TimeRow(item, seconds, 0, author=YOU) for item, seconds in sorted(mine.items(), key=lambda i: -i[1])
    ]
    rows += [
        TimeRow(item, seconds, 0, author=who)
        for (who, item), seconds in sorted(theirs.items(), key=lambda i: (i[0][0].lower(), -i[1]))
    ]
    titles = store.item_titles({row.item for row in rows})
    return TimeReport(since, until, "teammate", tuple(rows), titles)


@dataclass(frozen=True, slots=True)
class TeamStandup:
    since: date
    until: date
    people: tuple[dict[str, Any], ...]  # {author, you, items: [{item, title, seconds, decisions, commits}]}

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": "team",
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "people": list(self.people),
        }


def team_standup(store: Store, since: date, until: date) -> TeamStandup:
    """Per person, you first: the items worked on in the range (time, or an entry there),
    their time, decisions and commits."""
    from .reports import standup

    me, names = _people(store)
    mine = standup(store, since, until)
    people: dict[str, dict[str, dict[str, Any]]] = {
        YOU: {
            item.item: {
                "item": item.item,
                "title": item.title,
                "seconds": round(item.seconds),
                "decisions": list(item.decisions),
                "commits": list(item.commits),
            }
            for item in mine.items
        }
    }

    def slot(who: str, item: str, title: str | None) -> dict[str, Any]:
        items = people.setdefault(who, {})
        found = items.setdefault(
            item, {"item": item, "title": item, "seconds": 0, "decisions": [], "commits": []}
        )
        if title and found["title"] == item:
            found["title"] = title
        return found

    for row in store.team_time_rows(since.isoformat(), until.isoformat()):
        who = YOU if row["author_id"] == me else names.get(row["author_id"], row["author_id"])
        slot(who, row["item"], None)["seconds"] += round(row["seconds"])
    start = _iso(_day_start(since, store.tz))
    end = _iso(_day_start(until + timedelta(days=1), store.tz))
    for row in store.team_entries_between(start, end, ("decision", "commit")):
        who = YOU if row["author_id"] == me else names.get(row["author_id"], row["author_id"])
        listed = slot(who, row["item"], row["title"])["decisions" if row["kind"] == "decision" else "commits"]
        listed.append(row["text"].split("\n", 1)[0][:300])
    ordered = [YOU, *sorted((p for p in people if p != YOU), key=str.lower)]
    return TeamStandup(
        since,
        until,
        tuple(
            {
                "author": who,
                "you": who == YOU,
                "items": [
                    {**i, "decisions": i["decisions"][-MAX_LISTED:], "commits": i["commits"][-MAX_LISTED:]}
                    for i in sorted(people[who].values(), key=lambda i: -i["seconds"])
                ],
            }
            for who in ordered
            if people.get(who) or who == YOU
        ),
    )


def _iso(timestamp: float) -> str:
    return iso(datetime.fromtimestamp(timestamp, UTC))


def render_team_standup(report: TeamStandup, fmt: str) -> str:
    """Text for a terminal (control characters escaped) or Markdown (teammates' words
    quoted as data): a teammate's log is untrusted."""
    if fmt == "json":
        return json.dumps(report.to_wire(), ensure_ascii=False, indent=2) + "\n"
    markdown = fmt == "markdown"
    said = inline if markdown else escape_controls
    span = str(report.since) if report.since == report.until else f"{report.since} .. {report.until}"
    lines = [f"## Team stand-up {span}" if markdown else f"Team stand-up {span}"]
    for person in report.people:
        lines += ["", f"### {said(person['author'])}" if markdown else said(person["author"])]
        if not person["items"]:
            lines.append("- nothing recorded" if markdown else "  nothing recorded")
            continue
        if markdown:
            rows = [[said(i["item"]), said(i["title"]), duration(i["seconds"])] for i in person["items"]]
            lines += ["", *table(["item", "title", "time"], rows, right=("time",)), ""]
        for item in person["items"]:
            if not markdown:
                lines.append(f"  {said(item['item'])}  {said(item['title'])}  {duration(item['seconds'])}")
            for kind, words in (("decisions", "decided"), ("commits", "commit")):
                for text in item[kind]:
                    lines.append(
                        f"- {said(item['item'])} {words}: {said(text)}"
                        if markdown
                        else f"    {words}: {said(text)}"
                    )
    return "\n".join(lines) + "\n"
