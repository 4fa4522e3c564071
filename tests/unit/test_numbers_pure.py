"""Numbers as people read them: one rounding rule for durations, so a total shown is the
sum of the rows shown; a rate is never negative."""

from __future__ import annotations

from datetime import date

import pytest

from scribe_ls.core.reports import TimeReport, duration, render_time
from scribe_ls.core.timesheet import TimeRow
from scribe_ls.model import whole_minutes

DAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0m"),
        (29, "0m"),
        (32, "1m"),
        (89, "1m"),
        (90, "2m"),
        (3599, "1h 00m"),
        (3629, "1h 00m"),
        (3630, "1h 01m"),
    ],
)
def test_a_duration_is_whole_minutes_to_the_nearest(seconds: float, said: str) -> None:
    assert duration(seconds) == said
    assert whole_minutes(-5) == 0


def test_a_time_reports_total_is_the_sum_of_its_rows_as_shown() -> None:
    rows = (TimeRow("B-1", 8 * 60 + 40, 3), TimeRow("B-2", 2 * 60 + 50, 2), TimeRow("B-3", 32, 1))
    shown = render_time(TimeReport(DAY, DAY, "item", rows, {}), "table")
    lines = {line.split()[0]: line.split() for line in shown.splitlines()[3:]}
    assert [lines[item][1] for item in ("B-1", "B-2", "B-3")] == ["9m", "3m", "1m"]
    assert lines["total"][1:] == ["13m", "0.22"]
    hours = [float(lines[item][2]) for item in ("B-1", "B-2", "B-3")]
    assert round(sum(hours), 2) == 0.22


def test_by_author_the_rows_less_the_minutes_at_once_are_the_total() -> None:
    rows = (
        TimeRow("B-1", 20 * 60 + 20, 5, author="person"),
        TimeRow("B-1", 20 * 60 + 20, 5, author="claude-code"),
    )
    report = TimeReport(DAY, DAY, "author", rows, {}, once_seconds=30 * 60 + 10)
    shown = render_time(report, "table")
    assert "total" in shown and " 30m " in shown
    assert "at work at once: 10m, counted once in the total" in shown  # 20m + 20m - 30m
