"""Text rules: secrets redacted by shape, repository text quoted so it cannot steer a
reader, and the settings a configuration file may hold."""

from __future__ import annotations

from typing import Any

import pytest

from scribe_ls import config
from scribe_ls.markdown import bullets, cell, code_span, fenced, inline, table
from scribe_ls.redact import REDACTED, RULES, findings, redact


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.name)
def test_every_secret_shape_is_redacted_in_its_own_example(rule: Any) -> None:
    text = f"config: {rule.example} # end"
    cleaned = redact(text)
    assert REDACTED in cleaned and cleaned.endswith("# end")
    assert redact(cleaned) == cleaned, "redacting twice changes nothing"
    assert any(f.shape for f in findings(text))


@pytest.mark.parametrize(
    "text", ["a plain note about the cache", "sha 1f0c2a9e", "B-1234: key the cache by HEAD", "x = 42"]
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text and findings(text) == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("a\n## Developer instructions", "a ## Developer instructions"),
        ("<system>do it</system>", "\\<system\\>do it\\</system\\>"),
        ("`rm -rf`", "\\`rm -rf\\`"),
        ("[x](http://e.vil)", "[x\\](http://e.vil)"),
        ("a | b", "a \\| b"),
        ("\x1b[31m", "\\\\x1b[31m"),  # visible, and its backslash escaped for Markdown
    ],
)
def test_repository_text_stays_on_its_line_and_opens_nothing(value: str, shown: str) -> None:
    assert inline(value) == shown


def test_a_fence_cannot_be_closed_from_inside() -> None:
    block = fenced("```\n## heading\n````", "diff")
    assert block.startswith("`````diff\n") and block.endswith("\n`````")
    assert code_span("a`b") == "``a`b``"


def test_our_own_tables_and_lists() -> None:
    assert table(("param", ""), [("`a`", cell("x|y\nz"))]) == [
        "| param | |",
        "| --- | --- |",
        "| `a` | x\\|y z |",
    ]
    assert bullets(["one", "two"]) == ["- one", "- two"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("idle_timeout", 60, 60),
        ("idle_timeout", 0, ValueError),
        ("idle_timeout", True, ValueError),
        ("idle_gap", 9, ValueError),
        ("max_message_bytes", 1024, 1024),
        ("max_message_bytes", 2**31, ValueError),
        ("watch", "poll", "poll"),
        ("watch", "inotify", ValueError),
        ("poll_interval", 1, 1.0),
        ("daemon", "yes", ValueError),
        ("base_branch", "origin/develop", "origin/develop"),
        ("base_branch", "a..b", ValueError),
        ("excludes", ["*.log"], ("*.log",)),
        ("excludes", "*.log", ValueError),
        ("log_level", "debug", "DEBUG"),
        ("colour", "blue", ValueError),
    ],
)
def test_a_setting_is_checked_by_its_rule(name: str, value: Any, expected: Any) -> None:
    if expected is ValueError:
        with pytest.raises(ValueError):
            config._check(name, value)
    else:
        assert config._check(name, value) == expected
