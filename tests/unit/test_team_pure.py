"""The shared log's records read as untrusted data, the team views and the back-off:
pure, no git and no store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scribe_ls.recording.team_sync import MAX_BACKOFF, backoff
from scribe_ls.team import records as rec
from scribe_ls.team import views


def test_the_wait_between_tries_doubles_while_the_remote_is_unreachable() -> None:
    assert [backoff(120, n) for n in range(5)] == [120, 240, 480, 960, MAX_BACKOFF]
    assert backoff(120, 10**6) == MAX_BACKOFF


ENTRY = {
    "t": "entry",
    "id": 7,
    "session": "s-1",
    "at": "2026-12-07T09:00:00.000Z",
    "kind": "note",
    "text": "keep x",
    "files": ["src/x.py"],
    "author": None,
}
SESSION = {
    "t": "session",
    "id": "s-1",
    "backlogId": "B-1300",
    "title": "cache",
    "branch": "feature/B-1300-x",
    "status": "active",
    "startedAt": "2026-12-07T09:00:00.000Z",
    "endedAt": None,
    "lastActivityAt": "2026-12-07T09:05:00.000Z",
    "activeSeconds": 300.0,
    "files": ["src/x.py"],
}


def test_records_written_are_read_back_as_they_were() -> None:
    hello = {"t": "hello", "name": "Ana", "email": "ana@example.com"}
    found, problems = rec.decode(rec.encode([hello, SESSION, ENTRY]))
    assert problems == [] and found == [hello, SESSION, ENTRY]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"files": ["../../etc/passwd"]}, "not a path inside the repository"),
        ({"files": ["/etc/passwd"]}, "not a path inside the repository"),
        ({"files": ["a\\\\b"]}, "not a path inside the repository"),
        ({"kind": "intent"}, None),  # a prompt is read where the writer shared it
        ({"kind": "rant"}, "not a shared kind"),
        ({"id": True}, "not an entry id"),
        ({"id": -1}, "not an entry id"),
        ({"at": "yesterday"}, "not an ISO 8601 time"),
        ({"text": "x" * 70000}, "too long"),
        ({"text": "a\x00b"}, "NUL"),
        ({"author": "<script>"}, "not an author"),
        ({"t": "delete-everything"}, "unknown record type"),
    ],
)
def test_a_record_that_is_not_what_it_should_be_is_skipped_and_said(
    change: dict[str, Any], said: str | None
) -> None:
    line = json.dumps(ENTRY | change).encode()
    found, problems = rec.decode(line)
    if said is None:
        assert problems == [] and len(found) == 1
    else:
        assert found == [] and len(problems) == 1 and said in problems[0]


def test_a_segment_over_its_caps_is_bounded() -> None:
    assert rec.decode(b"x" * (rec.MAX_SEGMENT_BYTES + 1))[0] == []
    long_line = json.dumps(ENTRY | {"text": "y" * 60000}).encode() * 5
    assert "over" in rec.decode(long_line)[1][0]
    nested = b"[" * 100000
    assert rec.decode(nested)[1] == ["line 1: not JSON; skipped"]


def test_an_author_is_one_id_on_each_machine_and_a_writer_id_is_unique() -> None:
    assert rec.author_id("Ana@Example.com ") == rec.author_id("ana@example.com")
    writers = {rec.new_writer_id() for _ in range(100)}
    assert len(writers) == 100 and all(rec.WRITER_RE.fullmatch("0" * 16 + "/" + w) for w in writers)


def _row(author: str, pusher: str, **more: Any) -> dict[str, Any]:
    base = {
        "writer": f"{rec.author_id(author)}/{'a' * 32}",
        "author_id": rec.author_id(author),
        "name": "Ana",
        "email": author,
        "pusher": pusher,
        "id": "s-1",
        "backlog_id": "B-1300",
        "title": "cache",
        "branch": "b",
        "status": "active",
        "started_at": "2026-12-07T10:02:00.000Z",
        "last_activity_at": None,
        "files": ["src/x.py"],
    }
    return base | more


def test_a_log_pushed_by_someone_else_than_its_author_is_shown_as_such() -> None:
    mine = _row("ana@example.com", "Ana <ana@example.com>")
    forged = _row("ana@example.com", "Mallory <m@example.com>", writer="f" * 16 + "/" + "b" * 32)
    assert views.verified(mine) and not views.verified(forged)
    (person,) = views.team([forged, mine])
    assert person["author"] == "Ana <ana@example.com>" and person["verified"] is False
    assert person["pushedBy"] == ["Mallory <m@example.com>"] and person["machines"] == 2
    said = views.overlap_said(forged, ["src/x.py", "a", "b", "c"])
    assert said == (
        "a teammate (Ana <ana@example.com>, pushed by Mallory <m@example.com>) is changing"
        " src/x.py, a, b and 1 more on B-1300 since 10:02 UTC"
    )


def test_a_sessions_state_said_at_every_sync_is_read_once_its_last() -> None:
    first = rec.encode([SESSION, ENTRY])
    odd_but_superseded = rec.encode([SESSION | {"files": ["../x"]}])  # replaced below: never read
    last = rec.encode([SESSION | {"status": "completed", "activeSeconds": 900.0}])
    (a, b, c) = rec.decode_many([first, odd_but_superseded, last])
    assert a == ([ENTRY], []) and b == ([], [])
    assert c[0][0]["status"] == "completed" and c[1] == []
    (_, (found, problems)) = rec.decode_many([first, rec.encode([SESSION | {"files": ["../x"]}])])
    assert found == [] and "not a path inside the repository" in problems[0], "a bad last state is said"


def test_a_fetch_or_push_runs_the_users_programs_never_the_repositorys() -> None:
    from scribe_ls.git.remote import transport_overrides
    from scribe_ls.git.safety import ConfigEntry

    def entry(scope: str, key: str, value: str) -> ConfigEntry:
        return ConfigEntry(scope, f"file:{scope}", key, value)

    users_only = [
        entry("global", "credential.helper", "store"),
        entry("global", "core.sshcommand", "ssh -i k"),
    ]
    # The user's credential helper comes back (every git process starts with none).
    assert transport_overrides(users_only) == [("credential.helper", ""), ("credential.helper", "store")]
    hostile = [
        *users_only,
        entry("local", "credential.helper", "!evil"),
        entry("local", "core.sshcommand", "evil"),
        entry("local", "remote.origin.uploadpack", "evil; git-upload-pack"),
        entry("local", "gpg.program", "evil"),
        entry("local", "credential.https://example.com.helper", "!evil"),
    ]
    said = transport_overrides(hostile)
    assert ("core.sshcommand", "ssh -i k") in said and ("remote.origin.uploadpack", "git-upload-pack") in said
    assert ("gpg.program", "gpg") in said and ("credential.https://example.com.helper", "") in said
    assert not any("evil" in value for _, value in said)
