"""The budget of a context packet: ``maxChars`` bounds the JSON of all section data, or
the Markdown text. The diff gives its numstat header for every changed file, then whole
hunks (most changed lines first) while they fit, and lists the files whose hunks were left
out; then the oldest worklog entries, older commits and long file lists go. Also here:
redacting every string of a section at once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..redact import may_hold_secret, redact


def redacted(value: Any) -> Any:
    """``value`` with every string redacted. One test over all its strings first: most
    sections hold no secret-shaped word at all, and then nothing is copied or scanned twice."""
    strings: list[str] = []
    _collect_strings(value, strings)
    if not may_hold_secret("\x00".join(strings)):
        return value
    return _redact_each(value)


def _collect_strings(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, list):
        for item in value:
            _collect_strings(item, into)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_strings(item, into)


def _redact_each(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_each(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_each(v) for k, v in value.items()}
    return value


def to_json(value: Any) -> str:
    """The compact JSON the budget measures (what a client receives, less whitespace)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def size(value: Any) -> int:
    return len(to_json(value))


def json_hunk_cost(hunk: dict[str, Any]) -> int:
    """What a hunk adds to the JSON, without encoding it (this runs once per hunk): its
    text and path, one more character per escaped newline, quote, backslash or tab, the
    keys, and the list's comma. Rarer escapes make it short; ``fit`` re-measures for that."""
    text = hunk["text"]
    escapes = text.count("\n") + text.count('"') + text.count("\\") + text.count("\t")
    return len(text) + escapes + len(hunk["path"]) + len(str(hunk["changed"])) + 33


def markdown_hunk_cost(hunk: dict[str, Any]) -> int:
    return len(hunk["text"]) + len(hunk["path"]) + 20  # the fence and the file line


def fit(
    sections: dict[str, dict[str, Any]],
    max_chars: int,
    measure: Callable[[dict[str, dict[str, Any]]], int],
    hunk_cost: Callable[[dict[str, Any]], int],
    item_cost: Callable[[Any], int] = lambda _: 1,
) -> bool:
    """Shrink section data in place until ``measure(sections)`` fits ``max_chars``.

    ``hunk_cost`` and ``item_cost`` estimate what one diff hunk or one list item adds to
    the measure; estimates only decide how much to try, ``measure`` has the last word.

    Order: diff hunks first (whole hunks only, the most changed lines first, while they
    fit), then the oldest worklog entries, older commits, long file lists, other sessions;
    at a tiny budget whole sections are left out, saying so. True if anything was cut."""
    truncated = False
    size: int | None = None  # measure(sections) as the data stands now; None: not known
    diff = sections.get("diff")
    if diff and diff.get("ok"):
        data = diff["data"]
        # (position in the diff, hunk), most changed lines first.
        ranked = sorted(enumerate(data["hunks"]), key=lambda item: -item[1]["changed"])
        data["hunks"] = []
        data["omitted"] = sorted({hunk["path"] for _, hunk in ranked})  # worst case, to reserve room
        room = max_chars - measure(sections)
        kept: list[tuple[int, dict[str, Any]]] = []
        for index, hunk in ranked:
            cost = hunk_cost(hunk)
            if cost <= room:
                kept.append((index, hunk))
                room -= cost

        def place() -> None:
            data["hunks"] = [hunk for _, hunk in sorted(kept, key=lambda item: item[0])]  # diff order
            kept_at = {index for index, _ in kept}
            left_out = {hunk["path"] for index, hunk in ranked if index not in kept_at}
            data["omitted"] = sorted(left_out)  # files with at least one hunk left out

        place()
        size = measure(sections)
        while kept and size > max_chars:  # estimates were short: drop the least changed
            kept.remove(min(kept, key=lambda item: item[1]["changed"]))
            place()
            size = measure(sections)
        truncated = len(kept) < len(ranked) or data.get("cut", False)
    if size is None:
        size = measure(sections)
    if size <= max_chars:
        return truncated  # the usual case: no further trimming
    shrinkers: list[tuple[str, str | None]] = [
        ("worklog", None),
        ("commits", None),
        ("git", "files"),
        ("diff", "files"),
        ("sessions", None),
    ]
    for name, key in shrinkers:
        section = sections.get(name)
        if size <= max_chars:
            break
        if not section or not section.get("ok"):
            continue
        items = section["data"] if key is None else section["data"][key]
        while size > max_chars and isinstance(items, list) and items:
            # Oldest entries, least recent commits: as many as their estimated size says
            # are needed (at least one), then measure again; not one measurement per item.
            freed = 0
            while items and freed < size - max_chars:
                freed += item_cost(items.pop(0 if name == "worklog" else -1))
                section["leftOut"] = section.get("leftOut", 0) + 1  # said, never hidden
            truncated = True
            size = measure(sections)
    while size > max_chars:
        # Still over (tiny budget): drop whole sections, last first, saying so.
        for name in reversed(list(sections)):
            section = sections[name]
            if section.get("ok") and section.get("data") is not None:
                what = _what(name, section)
                sections[name] = {"ok": False, "error": f"left out to fit the budget ({what})"}
                truncated = True
                break
        else:
            break
        size = measure(sections)
    return truncated


def _what(name: str, section: dict[str, Any]) -> str:
    """What a section held, for the line that says it was left out: "14 entries"."""
    data, left_out = section["data"], section.get("leftOut", 0)
    if name == "git":
        return f"{data['changedFiles']} changed files"
    if name == "diff":
        return f"{len(data['files']) + left_out} changed files"
    nouns = {"worklog": "entries", "commits": "commits", "sessions": "other sessions"}
    if name in nouns:
        return f"{len(data) + left_out} {nouns[name]}"
    return "the session" if name == "session" else "the summary"
