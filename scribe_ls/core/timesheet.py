"""Time per backlog item: pulses merged into spans, rolled up per day. SQL on the store's
connection, called by :class:`scribe_ls.store.database.Store` inside its own transactions only.

A *pulse* is a moment of activity in a session: an entry (a note, a save's activity
entry, a commit, a start or a stop), or an editor's ``scribe/heartbeat``. Pulses merge
ActivityWatch-style: a pulse within ``idle_gap`` seconds of the session's open span, with
nothing of another session in between, no pause or stop since, and on the same branch,
extends the span to it; otherwise it opens a new span of zero length. So time is what lies
between pulses that are close together, never the idle time after the last one, and never
counted twice when two sessions take turns.

Every extension adds its seconds to a daily roll-up row (local calendar day, item, branch)
in the same transaction, split at midnight, and to the session's ``active_seconds``. A
report over a year reads at most a few hundred roll-up rows per item, never the pulses:
ActivityWatch's month views timed out reading raw events (aw-server-rust #629).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from ..contract.operations import REPORT_GROUPINGS

IDLE_GAP = 300  # seconds: the default gap that ends a span
# A pulse this much before its session's span ends came late (another process committed
# first): it is inside time already counted. Further back, the clock was set back (or the
# span's end was stamped by a clock that ran ahead): the span is left, a new one opens.
LATE_TOLERANCE = 60.0
# Wall and monotonic clocks disagreeing by more than this between two pulses of one
# process: the wall clock was set.
CLOCK_STEP = 2.0
GROUPINGS = REPORT_GROUPINGS  # declared with the report operation


# NamedTuples, not dataclasses: every CLI verb loads this module, and dataclasses cost a
# CLI start-up several milliseconds (bench/RESULTS.md).
class Pulse(NamedTuple):
    session_id: str
    item: str  # the worklog key: the backlog id, else the session id
    branch: str  # "" when detached or unknown
    at: float  # unix seconds


def local_day(at: float, tz: tzinfo | None) -> date:
    """The calendar day of ``at`` in ``tz`` (None: this machine's zone)."""
    return datetime.fromtimestamp(at, tz).date()


def _next_midnight(day: date, tz: tzinfo | None) -> float:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=tz).timestamp()


def day_slices(start: float, end: float, tz: tzinfo | None) -> list[tuple[str, float]]:
    """Seconds of ``[start, end)`` per local day, split at each midnight."""
    slices: list[tuple[str, float]] = []
    moment = start
    while moment < end:
        day = local_day(moment, tz)
        cut = min(end, _next_midnight(day, tz))
        if cut <= moment:  # a clock that jumps back at midnight (DST): never loop
            cut = end
        slices.append((day.isoformat(), cut - moment))
        moment = cut
    return slices


def apply_pulse(
    conn: sqlite3.Connection,
    pulse: Pulse,
    idle_gap: float,
    tz: tzinfo | None,
    *,
    steady_gap: float | None = None,
) -> float:
    """Merge ``pulse`` into its session's spans and the roll-ups; returns the seconds it
    added to the session's active time.

    Clocks jump: a span whose end lies well after the pulse (a clock set back, an entry
    stamped by a clock running ahead) is left and a new span opens, so time never freezes
    until the clock catches up. ``steady_gap``: the seconds since the session's previous
    pulse by this process's monotonic clock, given when the wall clock was set between
    them; that gap counts (up to ``idle_gap``) and the span goes on from the new time."""
    owner = conn.execute("SELECT value FROM meta WHERE key = 'pulse'").fetchone()
    span = conn.execute(
        "SELECT id, started_at, ended_at, branch FROM spans WHERE session_id = ? ORDER BY id DESC LIMIT 1",
        (pulse.session_id,),
    ).fetchone()
    added = 0.0
    continuing = (
        span is not None and owner is not None and owner[0] == pulse.session_id and span[3] == pulse.branch
    )
    if span is not None and continuing and steady_gap is not None and 0 <= steady_gap <= idle_gap:
        conn.execute(
            "INSERT INTO spans (session_id, item, branch, started_at, ended_at) VALUES (?, ?, ?, ?, ?)",
            (pulse.session_id, pulse.item, pulse.branch, pulse.at, pulse.at),
        )
        _add_daily(conn, local_day(pulse.at, tz).isoformat(), pulse, steady_gap, 0)
        added = steady_gap
    elif span is not None and span[2] - LATE_TOLERANCE <= pulse.at <= span[2]:
        pass  # not after the open span's end: inside time already counted, or late
    elif span is not None and continuing and span[2] < pulse.at <= span[2] + idle_gap:
        conn.execute("UPDATE spans SET ended_at = ? WHERE id = ?", (pulse.at, span[0]))
        for day, seconds in day_slices(span[2], pulse.at, tz):
            _add_daily(conn, day, pulse, seconds, 0)
        added = pulse.at - span[2]
    else:
        conn.execute(
            "INSERT INTO spans (session_id, item, branch, started_at, ended_at) VALUES (?, ?, ?, ?, ?)",
            (pulse.session_id, pulse.item, pulse.branch, pulse.at, pulse.at),
        )
    _add_daily(conn, local_day(pulse.at, tz).isoformat(), pulse, 0.0, 1)
    if owner is None or owner[0] != pulse.session_id:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('pulse', ?)", (pulse.session_id,))
    return added


def end_span(conn: sqlite3.Connection, session_id: str) -> None:
    """The session's open span ends here (it was paused or stopped): its next pulse opens a
    new one, however soon it comes, so paused time is never counted (nor any author's)."""
    conn.execute("DELETE FROM meta WHERE key = 'pulse' AND value = ?", (session_id,))
    conn.execute("DELETE FROM author_spans WHERE session_id = ?", (session_id,))


PERSON = "person"  # the author of pulses nobody else claims: the developer's


def author_key(author: str | None) -> str:
    """Whose time a pulse is: the person's (no author), else the agent's name
    (``claude-code:8c35adc1`` and an MCP client's ``claude-code`` are one agent)."""
    return PERSON if not author else author.partition(":")[0]


def apply_author_pulse(
    conn: sqlite3.Connection, pulse: Pulse, author: str, idle_gap: float, tz: tzinfo | None
) -> None:
    """Count ``pulse`` in ``author``'s own time of the item: a pulse within ``idle_gap``
    after that author's last one in the session extends it (the gap is counted); otherwise
    it opens a new one. Beside :func:`apply_pulse` (the item's time, counted once)."""
    span = conn.execute(
        "SELECT ended_at FROM author_spans WHERE session_id = ? AND author = ?", (pulse.session_id, author)
    ).fetchone()
    if span is not None and span[0] - LATE_TOLERANCE <= pulse.at <= span[0]:
        pass  # inside time already counted, or late
    elif span is not None and span[0] < pulse.at <= span[0] + idle_gap:
        conn.execute(
            "UPDATE author_spans SET ended_at = ? WHERE session_id = ? AND author = ?",
            (pulse.at, pulse.session_id, author),
        )
        for day, seconds in day_slices(span[0], pulse.at, tz):
            _add_author_daily(conn, day, pulse.item, author, seconds, 0)
    else:
        conn.execute(
            "INSERT OR REPLACE INTO author_spans (session_id, author, started_at, ended_at)"
            " VALUES (?, ?, ?, ?)",
            (pulse.session_id, author, pulse.at, pulse.at),
        )
    _add_author_daily(conn, local_day(pulse.at, tz).isoformat(), pulse.item, author, 0.0, 1)


def _add_author_daily(
    conn: sqlite3.Connection, day: str, item: str, author: str, seconds: float, pulses: int
) -> None:
    conn.execute(
        "INSERT INTO time_by_author (day, item, author, seconds, pulses) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (day, item, author) DO UPDATE SET"
        " seconds = seconds + excluded.seconds, pulses = pulses + excluded.pulses",
        (day, item, author, seconds, pulses),
    )


def _add_daily(conn: sqlite3.Connection, day: str, pulse: Pulse, seconds: float, pulses: int) -> None:
    conn.execute(
        "INSERT INTO time_daily (day, item, branch, seconds, pulses) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (day, item, branch) DO UPDATE SET"
        " seconds = seconds + excluded.seconds, pulses = pulses + excluded.pulses",
        (day, pulse.item, pulse.branch, seconds, pulses),
    )


class TimeRow(NamedTuple):
    """Seconds of one item (on one day, on one branch, or of one author, by the grouping)."""

    item: str
    seconds: float
    pulses: int
    day: str | None = None
    branch: str | None = None
    author: str | None = None


def time_rows(conn: sqlite3.Connection, since: date, until: date, by: str) -> list[TimeRow]:
    """The roll-ups of ``[since, until]`` (local days, inclusive), grouped ``by`` item, day
    (then item) or branch (then item); most time first, days in order."""
    span = (since.isoformat(), until.isoformat())
    if by == "item":
        sql = (
            "SELECT item, SUM(seconds), SUM(pulses) FROM time_daily WHERE day BETWEEN ? AND ?"
            " GROUP BY item ORDER BY 2 DESC, item"
        )
        return [TimeRow(r[0], r[1], r[2]) for r in conn.execute(sql, span)]
    if by == "day":
        sql = (
            "SELECT day, item, SUM(seconds), SUM(pulses) FROM time_daily WHERE day BETWEEN ? AND ?"
            " GROUP BY day, item ORDER BY day, 3 DESC, item"
        )
        return [TimeRow(r[1], r[2], r[3], day=r[0]) for r in conn.execute(sql, span)]
    if by == "branch":
        sql = (
            "SELECT branch, item, SUM(seconds), SUM(pulses) FROM time_daily WHERE day BETWEEN ? AND ?"
            " GROUP BY branch, item ORDER BY 3 DESC, branch, item"
        )
        return [TimeRow(r[1], r[2], r[3], branch=r[0]) for r in conn.execute(sql, span)]
    if by == "author":
        sql = (
            "SELECT author, item, SUM(seconds), SUM(pulses) FROM time_by_author WHERE day BETWEEN ? AND ?"
            " GROUP BY item, author ORDER BY item, 3 DESC, author"
        )
        return [TimeRow(r[1], r[2], r[3], author=r[0]) for r in conn.execute(sql, span)]
    raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
