"""Legacy worklogs survive import: whatever the legacy writer could produce renders back
from the store byte for byte, with its sessions' branches, times and active time."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, seed, settings
from hypothesis import strategies as st

from scribe_ls.config import Config
from scribe_ls.core.operations import Ledger
from scribe_ls.store.database import Store
from scribe_ls.worklog.legacy import import_legacy

LEGACY = Path(__file__).parents[1] / "data" / "legacy"

# What a line of the legacy writer can hold: any printable text (tabs too), never a line
# break of any kind Python's splitlines() knows.
line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), whitelist_characters="\t"),
    max_size=24,
)
empty_looking = st.sampled_from(["", " ", "   ", "\t", " - ", "##", "#", "-"])
paths = st.one_of(
    st.sampled_from(["src/app.py", "docs/read me.md", "ünïcode/файл.txt", " leading space", "a  b/c d.py"]),
    line_text.filter(lambda p: not p.startswith("(+")),
)


@st.composite
def legacy_worklog(draw: st.DrawFn) -> tuple[str, list[tuple[datetime, datetime, str]]]:
    """A worklog by the legacy writer's rules: one ``## <second>`` heading per write call
    (so several blocks can share a second), ``Session started`` / ``Branch: …`` to begin a
    session, ``Changes: N file(s)`` listing at most ten paths then ``(+N more)``, its notes
    and its stop lines. Also returns each session's (start, end, branch)."""
    key = f"B-{draw(st.integers(1, 99999))}"
    moment = datetime(2025, 8, 22, 22, 7, 55, tzinfo=UTC)
    blocks: list[tuple[datetime, list[str]]] = []
    sessions = []
    for _ in range(draw(st.integers(1, 3))):
        moment += timedelta(seconds=draw(st.integers(1, 200_000)))
        branch = draw(st.sampled_from(["main", "feature/B-1-x", "fix/ümlaut", "a branch"]))
        started = moment
        blocks.append((moment, ["- Session started", f"- Branch: {branch}"]))
        for _ in range(draw(st.integers(0, 6))):
            # 0: another write in the same second, its own block
            moment += timedelta(seconds=draw(st.sampled_from([0, 0, 1, 2, 59, 900, 4000])))
            what = draw(st.sampled_from(["changes", "note", "empty", "recent", "committed", "manual"]))
            if what == "changes":
                count = draw(st.integers(0, 30))
                listed = draw(st.lists(paths, min_size=min(count, 10), max_size=min(count, 10)))
                lines = [f"- Changes: {count} file(s)", *(f"  - {p}" for p in listed)]
                if count > 10:
                    lines.append(f"  - (+{count - 10} more)")
            elif what == "note":
                lines = [f"- {text}" for text in draw(st.lists(line_text, min_size=1, max_size=3))]
            elif what == "empty":
                lines = [f"- {draw(empty_looking)}"]
            elif what == "recent":
                done = draw(st.lists(paths, min_size=1, max_size=4))
                lines = [f"- Recent work completed: {', '.join(done)}"]
            elif what == "committed":
                committed = draw(st.lists(paths, min_size=1, max_size=3))
                lines = [f"- Backlog files committed: {' '.join(committed)}"]
            else:
                lines = ["- Manual work update triggered"]
            blocks.append((moment, lines))
        stop = draw(
            st.sampled_from(
                [
                    None,
                    "Idle timeout reached; stopping scribe",
                    f"Branch switched to {branch}-next; stopping scribe",
                    "Remote is up-to-date with local; stopping scribe after push",
                ]
            )
        )
        if stop is not None:
            moment += timedelta(seconds=draw(st.sampled_from([0, 1, 1800])))
            blocks.append((moment, [f"- {stop}"]))
        sessions.append((started, moment, branch))
    text = f"# Worklog {key}\n" + "".join(
        f"\n## {at:%Y-%m-%d %H:%M:%S}\n\n" + "".join(line + "\n" for line in lines) for at, lines in blocks
    )
    return text, sessions


def imported(text: str) -> tuple[str, list]:
    """Import ``text`` into a fresh store; the worklog rendered back and the sessions."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        key = text.split("\n", 1)[0].removeprefix("# Worklog ")
        (root / f"{key}.md").write_text(text, encoding="utf-8")
        store = Store(root)
        store.open()
        try:
            ledger = Ledger(store, Config())
            report = import_legacy(ledger, [root / f"{key}.md"])
            assert report["skipped"] == []
            rendered = ledger.worklogs.path(key).read_text(encoding="utf-8")
            sessions = sorted(store.list_sessions(backlog_id=key), key=lambda s: s.started_at)
            return rendered, sessions
        finally:
            store.close()


@seed(20261201)
@settings(max_examples=200, deadline=None)
@given(legacy_worklog())
def test_any_legacy_worklog_renders_back_byte_for_byte(case: tuple[str, list]) -> None:
    text, expected = case
    rendered, sessions = imported(text)
    assert rendered == text
    assert [(s.started_at, s.ended_at, s.branch, s.status) for s in sessions] == [
        (_iso(start), _iso(end), branch, "completed") for start, end, branch in expected
    ]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_the_real_samples_round_trip_with_their_sessions() -> None:
    for key in ("B-093", "B-096"):
        text = (LEGACY / f"worklogs-{key}.md").read_text(encoding="utf-8")
        rendered, sessions = imported(text)
        assert rendered == text
    (b096,) = sessions
    assert (b096.branch, b096.started_at, b096.ended_at) == (
        "main",
        "2025-08-23T04:16:56.000Z",
        "2025-08-29T20:59:26.000Z",
    )
    # Active time is the gaps the legacy tool did not stop for (at most its idle timeout).
    # 04:16:56 -> 04:16:58, then the writes of 25 Aug closer than 30 min apart, ...
    assert b096.stats.active_seconds == 2 + 1556 + 627 + 438 + 2 + 1540 + 425 + 238 + 37 + 268


def test_several_blocks_within_one_second_stay_apart() -> None:
    text = (
        "# Worklog B-7\n\n## 2025-08-22 22:07:55\n\n- Session started\n- Branch: main\n"
        "\n## 2025-08-22 22:07:55\n\n- Changes: 1 file(s)\n  - a b.py\n"
        "\n## 2025-08-22 22:07:55\n\n- \n"
    )
    assert imported(text)[0] == text
