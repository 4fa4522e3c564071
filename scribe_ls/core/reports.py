"""Reports over the time roll-ups (:mod:`scribe_ls.core.timesheet`): time per item, day or
branch, and a stand-up per backlog item. Built from a :class:`Store`, rendered as JSON (the
wire's shape), a text table, CSV or Markdown. No pygls, no event loop: the CLI builds one
directly, the service in its store thread.

Days are local calendar days (the store's zone); ``since`` and ``until`` are inclusive.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from ..errors import InvalidParams
from ..lazylog import escape_controls
from ..markdown import bullets, cell, inline, table
from ..model import Entry, clip, parse_iso, whole_minutes
from ..store.database import Store
from .agent_work import agent_work, said
from .summarize import extract_summary
from .timesheet import TimeRow, local_day

FORMATS = ("table", "json", "csv", "markdown")
STANDUP_FORMATS = ("table", "json", "markdown")
MAX_DAYS = 3660  # ten years: a bound on what one report reads
MAX_LISTED = 20  # per list of a stand-up item
_AGO_RE = re.compile(r"^(\d{1,4})d$")


def parse_day(value: Any, field: str, today: date) -> date:
    """``today``, ``yesterday``, ``<N>d`` (N days ago), ``week`` (this week's Monday),
    ``month`` (this month's first day) or ``YYYY-MM-DD``."""
    if not isinstance(value, str):
        raise InvalidParams(field, f"expected a date string, got {type(value).__name__}")
    text = value.strip().lower()
    if text == "today":
        return today
    if text == "yesterday":
        return today - timedelta(days=1)
    if text == "week":
        return today - timedelta(days=today.weekday())
    if text == "month":
        return today.replace(day=1)
    if ago := _AGO_RE.match(text):
        return today - timedelta(days=int(ago.group(1)))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidParams(
            field,
            f"{value[:40]!r} is not a day: use YYYY-MM-DD, today, yesterday, week, month or <N>d",
        ) from None


def day_range(since: Any, until: Any, *, today: date, default_since: date) -> tuple[date, date]:
    """The checked ``[since, until]`` of a report (None: the defaults, until today)."""
    first = default_since if since is None else parse_day(since, "since", today)
    last = today if until is None else parse_day(until, "until", today)
    if last < first:
        raise InvalidParams("until", f"{last} is before since ({first})")
    if (last - first).days >= MAX_DAYS:
        raise InvalidParams("since", f"a report covers at most {MAX_DAYS} days")
    return first, last


def duration(seconds: float) -> str:
    """``3h 05m``, ``12m``, ``0m``: minutes are what a time sheet is read in, rounded to
    the nearest (:func:`~scribe_ls.model.whole_minutes`)."""
    return minutes_said(whole_minutes(seconds))


def minutes_said(minutes: int) -> str:
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _item_wire(item: str, title: str, seconds: float) -> dict[str, Any]:
    """An item as both reports name it: its worklog key, backlog id (None for a session
    without one), title and whole seconds."""
    return {
        "item": item,
        "backlogId": item if item.startswith("B-") else None,
        "title": title,
        "seconds": round(seconds),
    }


# -- time -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeReport:
    since: date
    until: date
    by: str
    rows: tuple[TimeRow, ...]
    titles: dict[str, str]
    # By author: the items' own time, where a minute both were at work counts once.
    once_seconds: float | None = None

    @property
    def total_seconds(self) -> float:
        if self.once_seconds is not None:
            return self.once_seconds
        return sum(row.seconds for row in self.rows)

    @property
    def both_seconds(self) -> float:
        """By author: the time more than one author was at work (the rows' sum less the
        total, where it counts once)."""
        return max(0.0, sum(row.seconds for row in self.rows) - self.total_seconds)

    def to_wire(self) -> dict[str, Any]:
        rows = []
        for row in self.rows:
            wire = {
                **_item_wire(row.item, self.titles.get(row.item, row.item), row.seconds),
                "pulses": row.pulses,
            }
            if self.by == "day":
                wire["day"] = row.day
            if self.by == "branch":
                wire["branch"] = row.branch or None
            if self.by == "author":
                wire["author"] = row.author
            if self.by == "teammate":
                wire["teammate"] = row.author  # "you", or who the shared log says
            rows.append(wire)
        result = {
            "kind": "time",
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "by": self.by,
            "totalSeconds": round(self.total_seconds),
            "rows": rows,
        }
        if self.by == "author":
            # From the rounded figures, so the rows less it make the total as shown.
            result["bothSeconds"] = max(0, sum(row["seconds"] for row in rows) - result["totalSeconds"])
        return result


def time_report(store: Store, since: date, until: date, by: str) -> TimeReport:
    rows = tuple(store.time_rows(since, until, by))
    titles = store.item_titles({row.item for row in rows})
    if by != "author":
        return TimeReport(since, until, by, rows, titles)
    once = sum(row.seconds for row in store.time_rows(since, until, "item"))
    return TimeReport(since, until, by, rows, titles, once_seconds=once)


def _columns(report: TimeReport) -> tuple[list[str], list[list[str]]]:
    lead = {"item": [], "day": ["day"], "branch": ["branch"], "author": ["author"], "teammate": ["who"]}[
        report.by
    ]
    header = [*lead, "item", "title", "time", "hours"]
    body = []
    for row in report.rows:
        first = {
            "item": [],
            "day": [row.day or ""],
            "branch": [row.branch or "(none)"],
            "author": [row.author or ""],
            "teammate": [row.author or ""],
        }[report.by]
        title = report.titles.get(row.item, row.item)
        title = "" if title == row.item else title  # a session named after its item
        body.append(
            [*first, row.item, title, duration(row.seconds), f"{whole_minutes(row.seconds) / 60:.2f}"]
        )
    return header, body


def render_time(report: TimeReport, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_wire(), ensure_ascii=False, indent=2) + "\n"
    header, body = _columns(report)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*header[:-2], "seconds", "hours"])
        for row, values in zip(report.rows, body, strict=True):
            writer.writerow([*values[:-2], round(row.seconds), values[-1]])
        return out.getvalue()
    title = f"Time {report.since} .. {report.until}, by {report.by}"
    # The total shown is the sum of the rows shown (each rounded to whole minutes once);
    # by author, the item's own time, and the minutes at once are what the rows add more.
    shown = sum(whole_minutes(row.seconds) for row in report.rows)
    minutes = whole_minutes(report.total_seconds) if report.by == "author" else shown
    total = ["total", *([""] * (len(header) - 4)), "", minutes_said(minutes), f"{minutes / 60:.2f}"]
    both = ""
    if report.by == "author" and shown > minutes:
        both = f"at work at once: {minutes_said(shown - minutes)}, counted once in the total"
    if report.by == "teammate":  # who a shared log says: untrusted data, never a terminal's escape
        body = [[inline(row[0]) if fmt == "markdown" else escape_controls(row[0]), *row[1:]] for row in body]
    if fmt == "markdown":
        rows = [[cell(v) for v in row] for row in body] + [[f"**{v}**" if v else "" for v in total]]
        lines = [f"## {title}", "", *table(header, rows, right=("time", "hours"))]
        return "\n".join([*lines, *(["", f"({both})"] if both else [])]) + "\n"
    if not body:
        return f"{title}\n  no recorded time\n"
    said = f"  ({both})\n" if both else ""
    return title + "\n" + _table([header, *body, total], right=("time", "hours")) + said


def _table(rows: list[list[str]], right: Sequence[str]) -> str:
    """A plain text table; titles are cut so a line stays readable."""
    rows = [[clip(v, 48) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    aligned = [i for i, name in enumerate(rows[0]) if name in right]
    lines = []
    for number, row in enumerate(rows):
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [v.rjust(w) if i in aligned else v.ljust(w) for i, (v, w) in pairs]
        lines.append("  " + "  ".join(cells).rstrip())
        if number == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


# -- stand-up ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StandupItem:
    item: str
    title: str
    seconds: float
    decisions: tuple[str, ...]
    completed: tuple[str, ...]
    commits: tuple[str, ...]
    open_todos: tuple[str, ...]
    # What coding agents did on it in the range (their hooks' entries; core/agent_work.py).
    agents: tuple[dict[str, Any], ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            **_item_wire(self.item, self.title, self.seconds),
            "decisions": list(self.decisions),
            "completed": list(self.completed),
            "commits": list(self.commits),
            "openTodos": list(self.open_todos),
            "agents": list(self.agents),
        }


@dataclass(frozen=True, slots=True)
class Standup:
    since: date
    until: date
    items: tuple[StandupItem, ...]

    def to_wire(self) -> dict[str, Any]:
        return {
            "kind": "standup",
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "totalSeconds": round(sum(item.seconds for item in self.items)),
            "items": [item.to_wire() for item in self.items],
        }


def _day_start(day: date, tz: tzinfo | None) -> float:
    return datetime.combine(day, time(), tzinfo=tz).timestamp()


def standup(store: Store, since: date, until: date) -> Standup:
    """Per backlog item worked on in the range (it has time or entries there): its time,
    the decisions made, the work completed and the commits in the range, and its todos
    still open (whenever they were written)."""
    rows = store.time_rows(since, until, "item")
    titles = store.item_titles({row.item for row in rows})
    start, end = _day_start(since, store.tz), _day_start(until + timedelta(days=1), store.tz)
    items = []
    for row in rows:
        sessions, entries = store.sessions_and_entries(row.item)
        within = [e for e in entries if start <= parse_iso(e.at).timestamp() < end]
        done = extract_summary(row.item, sessions, within, None)
        commits = tuple(_first_line(e) for e in within if e.kind == "commit")
        everything = extract_summary(row.item, sessions, entries, None)
        items.append(
            StandupItem(
                item=row.item,
                title=titles.get(row.item, row.item),
                seconds=row.seconds,
                decisions=done.decisions[-MAX_LISTED:],
                completed=tuple(c for c in done.completed if c not in commits)[-MAX_LISTED:],
                commits=commits[-MAX_LISTED:],
                open_todos=everything.next_steps[-MAX_LISTED:],
                agents=tuple(agent_work(within)),
            )
        )
    return Standup(since, until, tuple(items))


def _first_line(entry: Entry) -> str:
    return entry.text.split("\n", 1)[0][:300]


def render_standup(report: Standup, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report.to_wire(), ensure_ascii=False, indent=2) + "\n"
    markdown = fmt == "markdown"
    span = str(report.since) if report.since == report.until else f"{report.since} .. {report.until}"
    lines = [f"## Stand-up {span}" if markdown else f"Stand-up {span}"]
    if not report.items:
        lines += ["", "Nothing recorded."] if markdown else ["  nothing recorded"]
    for item in report.items:
        heading = f"{item.item} {item.title}" if item.title != item.item else item.item
        spent = duration(item.seconds)
        lines += ["", f"### {heading} ({spent})" if markdown else f"{heading}  {spent}"]
        for label, values in (
            ("Completed", item.completed),
            ("Commits", item.commits),
            ("Decisions", item.decisions),
            ("Open todos", item.open_todos),
            ("Agents", tuple(said(work) for work in item.agents)),
        ):
            if not values:
                continue
            lines += ["", f"**{label}**", ""] if markdown else [f"  {label}:"]
            # What the notes say is data: one line each, opening nothing (scribe_ls.markdown).
            lines += bullets(inline(v) for v in values) if markdown else [f"    - {v}" for v in values]
    return "\n".join(lines) + "\n"


def today(tz: tzinfo | None) -> date:
    return local_day(datetime.now().timestamp(), tz)
