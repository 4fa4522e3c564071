"""The context packet's pure parts: fitting sections to a budget, deltas between packets,
and the least budget a JSON packet can keep."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scribe_ls.context.budget import fit, json_hunk_cost, size
from scribe_ls.context.delta import Remembered, delta_sections, etag_of
from scribe_ls.context.request import context_request, json_floor
from scribe_ls.contract import operations as ops
from scribe_ls.errors import InvalidParams


def hunk(path: str, changed: int, text: str = "") -> dict[str, Any]:
    return {"path": path, "changed": changed, "text": text or f"@@ -1 +1 @@\n{'+x' * changed}"}


def packet(hunks: int = 0, entries: int = 0, commits: int = 0) -> dict[str, dict[str, Any]]:
    return {
        "session": {"ok": True, "data": {"id": "s-1", "title": "t"}},
        "diff": {
            "ok": True,
            "data": {
                "files": [{"path": f"f{i}.py"} for i in range(hunks)],
                "hunks": [hunk(f"f{i}.py", i + 1) for i in range(hunks)],
            },
        },
        "worklog": {"ok": True, "data": [{"id": i, "text": f"entry {i} " * 5} for i in range(entries)]},
        "commits": {"ok": True, "data": [{"sha": f"{i:040x}", "subject": "s" * 40} for i in range(commits)]},
    }


@pytest.mark.parametrize(
    ("budget", "hunks", "entries", "commits"),
    [(100_000, 5, 5, 5), (3000, 30, 20, 10), (1500, 60, 40, 30), (600, 10, 10, 10), (200, 5, 5, 5)],
)
def test_a_packet_is_cut_to_its_budget_and_says_what_it_left_out(
    budget: int, hunks: int, entries: int, commits: int
) -> None:
    sections = packet(hunks, entries, commits)
    before = copy.deepcopy(sections)
    cut = fit(sections, budget, size, json_hunk_cost, lambda item: size(item) + 1)
    assert size(sections) <= budget or all(not s.get("ok") for s in sections.values())
    assert cut == (size(before) > budget), "it says it cut exactly when it had to"
    diff = sections["diff"]
    if diff.get("ok"):
        kept = {h["path"] for h in diff["data"]["hunks"]}
        all_paths = {h["path"] for h in before["diff"]["data"]["hunks"]}
        assert set(diff["data"]["omitted"]) == all_paths - kept, "every hunk left out is named"
        shown = [h["path"] for h in diff["data"]["hunks"]]
        assert shown == sorted(shown, key=lambda p: int(p[1:-3])), "kept hunks stay in diff order"
    for name in ("worklog", "commits"):
        section = sections[name]
        if section.get("ok"):
            left = section.get("leftOut", 0)
            assert len(section["data"]) + left == len(before[name]["data"]), f"{name} counts what it cut"
        else:
            assert "left out to fit the budget" in section["error"]


def test_the_most_changed_hunks_are_kept_first() -> None:
    sections = {
        "diff": {"ok": True, "data": {"files": [], "hunks": [hunk("a", 1), hunk("b", 50), hunk("c", 2)]}}
    }
    fit(sections, size(sections) - 20, size, json_hunk_cost)
    assert [h["path"] for h in sections["diff"]["data"]["hunks"]] == ["b", "c"]
    assert sections["diff"]["data"]["omitted"] == ["a"]


def test_a_delta_holds_only_what_changed_and_names_what_went() -> None:
    old = packet(hunks=2, entries=2, commits=1)
    new = copy.deepcopy(old)
    new["worklog"]["data"].append({"id": 9, "text": "new"})
    new["diff"]["data"]["files"] = new["diff"]["data"]["files"][:1]
    new["diff"]["data"]["hunks"] = new["diff"]["data"]["hunks"][:1]
    changed, unchanged = delta_sections(old, new)
    assert sorted(unchanged) == ["commits", "session"]
    assert changed["worklog"] == {"ok": True, "data": [{"id": 9, "text": "new"}]}
    assert changed["diff"]["removed"] == {"files": ["f1.py"], "hunks": ["f1.py @@ -1 +1 @@"]}
    assert "removed" not in changed["worklog"], "an entry sliding out of the window is not gone"


def test_a_packet_is_remembered_by_etag_and_shape() -> None:
    remembered = Remembered()
    etag = etag_of("shape", "content")
    assert etag == etag_of("shape", "content") != etag_of("other", "content")
    remembered.keep(etag, "shape", {"a": 1})
    assert remembered.get(etag, "shape") == {"a": 1}
    assert remembered.get(etag, "other") is None


@pytest.mark.parametrize("field", ["max_chars", "max_tokens"])
def test_a_json_budget_below_its_keys_is_refused_naming_the_field(field: str) -> None:
    floor_chars, floor_tokens = json_floor(ops.CONTEXT_SECTIONS)
    asked = {"max_chars": floor_chars - 1, "max_tokens": None}
    if field == "max_tokens":
        asked = {"max_chars": 1_000_000, "max_tokens": floor_tokens - 1}
    given = ops.GET_CONTEXT.check(**asked)
    with pytest.raises(InvalidParams) as raised:
        context_request(given)
    assert raised.value.field == field
    # Markdown has no keys to pay for: the same budget is kept.
    assert context_request({**given, "format": "markdown"}).format == "markdown"
