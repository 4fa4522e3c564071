"""The legacy Markdown worklog format: read and written unchanged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scribe_ls.worklog import format as worklog
from scribe_ls.worklog.format import WorklogItem

LEGACY = Path(__file__).parents[1] / "data" / "legacy"


@pytest.mark.parametrize("name", ["worklogs-B-093.md", "worklogs-B-096.md"])
def test_legacy_worklogs_round_trip_byte_for_byte(name: str) -> None:
    text = (LEGACY / name).read_text(encoding="utf-8")
    parsed = worklog.parse(text)
    assert parsed.key == name.removeprefix("worklogs-").removesuffix(".md")
    assert worklog.render(parsed.key, parsed.items) == text


def test_legacy_kinds_and_file_lists_are_understood() -> None:
    parsed = worklog.parse((LEGACY / "worklogs-B-093.md").read_text(encoding="utf-8"))
    started, branch, changes, idle = parsed.items
    assert (started.kind, started.text) == ("system", "Session started")
    assert (branch.kind, branch.text) == ("system", "Branch: main")
    assert changes.kind == "activity" and changes.text == "Changes: 326 file(s)"
    assert len(changes.files) == 10 and changes.files[0] == ".vscode/settings.json"
    assert idle.text == "Idle timeout reached; stopping scribe"
    assert started.at == datetime(2025, 8, 22, 22, 7, 55, tzinfo=UTC)


def test_kinds_render_with_prefixes_and_group_by_second() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    items = [
        WorklogItem(at, "decision", "use WAL"),
        WorklogItem(at, "note", "two\nlines", ("a.py",)),
        WorklogItem(
            at.replace(second=6), "activity", "Changes: 12 file(s)", tuple(f"f{i}" for i in range(10))
        ),
    ]
    text = worklog.render("B-1", items)
    assert text.startswith(
        "# Worklog B-1\n\n## 2026-01-02 03:04:05\n\n- Decision: use WAL\n- two\n  lines\n  - a.py\n"
    )
    assert text.endswith(
        "## 2026-01-02 03:04:06\n\n- Changes: 12 file(s)\n"
        + "".join(f"  - f{i}\n" for i in range(10))
        + "  - (+2 more)\n"
    )


def test_append_matches_a_full_render() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    items = [WorklogItem(at.replace(second=s // 2), "note", f"n{s}") for s in range(10)]
    head = worklog.render("K", items[:5])
    assert head + worklog.block(worklog.heading_time(items[4].at), items[5:]) == worklog.render("K", items)


line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1,
    max_size=30,
).filter(lambda t: t.strip() == t and not t.startswith(("- ", "#")))


@st.composite
def items(draw: st.DrawFn) -> list[WorklogItem]:
    result = []
    seconds = 0
    for _ in range(draw(st.integers(0, 8))):
        seconds += draw(st.integers(0, 90))
        # A plain note that reads like a system line ("Session stopped") or carries a kind
        # prefix is indistinguishable from one in the legacy format: the bytes still
        # round-trip (checked above), the kind cannot, so such notes are not drawn here.
        first = draw(line_text.filter(lambda t: worklog._kind_of(t) == ("note", t)))
        lines = [first, *draw(st.lists(line_text, max_size=2))]
        kind = draw(st.sampled_from(["note", "decision", "idea", "todo", "commit"]))
        files = tuple(draw(st.lists(line_text.filter(lambda t: not t.startswith("(+")), max_size=3)))
        at = datetime(2026, 3, 1, tzinfo=UTC).replace(second=seconds % 60, minute=(seconds // 60) % 60)
        result.append(WorklogItem(at, kind, "\n".join(lines), files))
    return sorted(result, key=lambda i: i.at)


@settings(max_examples=150, deadline=None)
@given(items())
def test_render_parse_render_is_stable(entries: list[WorklogItem]) -> None:
    text = worklog.render("B-7", entries)
    parsed = worklog.parse(text)
    assert worklog.render(parsed.key, parsed.items) == text
    assert [(i.kind, i.text, i.files) for i in parsed.items] == [(i.kind, i.text, i.files) for i in entries]


def test_a_link_planted_as_the_render_state_is_replaced_never_followed(tmp_path: Path) -> None:
    from scribe_ls.store.layout import Layout

    root = tmp_path / "repo"
    root.mkdir()
    layout = Layout(root)
    layout.ensure()
    target = tmp_path / "elsewhere.txt"
    target.write_text("not scribe's\n")
    state = layout.render_state_path("B-1")
    state.symlink_to(target)
    layout.overwrite(state, '{"lastId": 1}')
    assert not state.is_symlink() and state.read_text() == '{"lastId": 1}'
    assert target.read_text() == "not scribe's\n"
    layout.overwrite(state, "{}")  # shorter: the old tail is cut, not left behind
    assert state.read_text() == "{}"
