"""What each documented hook payload records, and how our hooks merge into an agent's
settings: pure, from the payload fixtures in tests/data/hooks/claude-code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from scribe_ls.agents import hook_install
from scribe_ls.agents.hooks import Record, author_of, records, repository_path

FIXTURES = Path(__file__).parents[1] / "data" / "hooks" / "claude-code"
ROOT = Path("/home/dev/project")


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SessionStart.startup", [Record("agent", "agent session startup")]),
        ("UserPromptSubmit", [Record("intent", "Cache the context packet per HEAD and add a test for it")]),
        ("PostToolUse.Write", [Record("agent", "wrote src/cache.py (+1)", ("src/cache.py",))]),
        ("PostToolUse.Edit", [Record("agent", "edited README.md (+1/-1)", ("README.md",))]),
        ("PostToolUse.Bash", [Record("agent", "ran `pytest -q tests/test_cache.py` → exit 0")]),
        ("PostToolUseFailure.Bash", [Record("agent", "ran `pytest -q tests/test_cache.py` → exit 1")]),
        ("Stop", [Record("agent", "turn ended")]),
        ("SubagentStop", [Record("agent", "subagent code-reviewer ended")]),
        ("PreCompact", [Record("agent", "context compacted (auto)")]),
        ("SessionEnd", [Record("agent", "agent session ended (prompt_input_exit)")]),
    ],
)
def test_a_documented_payload_records_what_it_says(name: str, expected: list[Record]) -> None:
    payload = fixture(name)
    assert records(payload["hook_event_name"], payload, ROOT) == expected


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"tool_name": "Read"}, []),  # reading changes nothing
        ({"tool_input": "not an object"}, []),
        ({"tool_input": {"file_path": "/etc/passwd"}}, []),
        ({"tool_input": {"file_path": "/home/dev/project/../elsewhere.py"}}, []),
        (
            {"tool_input": {"file_path": "src/rel.py"}},
            [Record("agent", "wrote src/rel.py", ("src/rel.py",))],
        ),
        ({"tool_input": {"file_path": 7}}, []),
    ],
)
def test_a_tool_payload_out_of_the_ordinary_records_only_what_is_in_the_repository(
    change: dict[str, Any], expected: list[Record]
) -> None:
    payload = fixture("PostToolUse.Write") | change
    assert records("PostToolUse", payload, ROOT) == expected


def test_prompts_follow_the_settings_and_commands_stay_short() -> None:
    prompt = fixture("UserPromptSubmit")
    assert records("UserPromptSubmit", prompt, ROOT, capture_prompts=False) == []
    (cut,) = records("UserPromptSubmit", prompt | {"prompt": "y" * 900}, ROOT, prompt_chars=100)
    assert len(cut.text) == 100 and cut.text.endswith("…")
    bash = fixture("PostToolUse.Bash")
    long = bash | {"tool_input": {"command": "echo " + "z" * 500 + "\nrm -rf x"}}
    (ran,) = records("PostToolUse", long, ROOT)
    assert "\n" not in ran.text and len(ran.text) < 230
    interrupted = fixture("PostToolUseFailure.Bash") | {"is_interrupt": True, "error": ""}
    assert records("PostToolUseFailure", interrupted, ROOT)[0].text.endswith("→ interrupted")


def test_the_author_is_the_agent_and_its_session() -> None:
    assert author_of("claude-code", fixture("Stop")) == "claude-code:8c35adc1-5d0"
    assert author_of("claude-code", {"session_id": "<x>;rm"}) == "claude-code:xrm"
    assert author_of("claude-code", {}) == "claude-code"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/home/dev/project/a/b.py", "a/b.py"),
        ("a/../b.py", "b.py"),
        ("/home/dev/project", None),
        ("/home/dev/projectX/a.py", None),
        ("../x.py", None),
        ("a\x00b", None),
    ],
)
def test_a_path_is_kept_only_inside_the_repository(value: str, expected: str | None) -> None:
    assert repository_path(ROOT, value) == expected


def test_install_and_uninstall_touch_only_our_hooks(tmp_path: Path) -> None:
    path = tmp_path / ".claude" / "settings.json"
    path.parent.mkdir()
    theirs = {"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]}, "env": {"A": "1"}}
    path.write_text(json.dumps(theirs))
    assert hook_install.install(path) is True
    assert hook_install.install(path) is False, "a second install changes nothing"
    merged = json.loads(path.read_text())
    assert merged["env"] == {"A": "1"}
    assert merged["hooks"]["Stop"][0] == theirs["hooks"]["Stop"][0]
    assert hook_install.status(path)["missing"] == []
    assert hook_install.uninstall(path) is True
    assert json.loads(path.read_text()) == theirs
    for odd, said in (("[1]", "JSON object"), ('{"hooks": []}', "hooks is not an object"),
                      ('{"hooks": {"Stop": 1}}', "not a list"), ("\udcff", "not valid JSON")):  # fmt: skip
        path.write_text(odd, errors="surrogateescape")
        with pytest.raises(hook_install.InstallError, match=said):
            hook_install.install(path)
        assert path.read_text(errors="surrogateescape") == odd, "a file we cannot read is left as it is"
        assert hook_install.status(path)["installed"] == []


def test_saves_of_files_an_agent_said_it_wrote_are_its_own_for_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from scribe_ls.recording import attribution

    clock = [100.0]
    monkeypatch.setattr(attribution.time, "monotonic", lambda: clock[0])
    paths = attribution.AgentPaths()

    def entry(kind: str, author: str | None, files: list[str]) -> SimpleNamespace:
        wire = {"kind": kind, "author": author, "files": files}
        return SimpleNamespace(method="scribe/entryAdded", params={"entry": wire})

    paths.heard(entry("agent", "claude-code:a", ["src/x.py"]))
    paths.heard(entry("note", "claude-code:a", ["notes.md"]))  # a note names a file, writes none
    paths.heard(entry("agent", None, ["y.py"]))
    paths.heard(SimpleNamespace(method="scribe/activity", params={}))
    person, agents, both = paths.split(["src/x.py", "notes.md", "y.py"])
    assert person == ["notes.md", "y.py"] and agents == {"claude-code:a": ["src/x.py"]} and both == []
    clock[0] += attribution.AGENT_WINDOW + 1
    person, agents, both = paths.split(["src/x.py"])
    assert (person, agents) == (["src/x.py"], {}), "a save long after is the person's again"
    said = "claude-code:a and you both changed {} in the last 10 minutes"
    assert both == [said.format("src/x.py")]
    assert paths.split(["src/x.py"])[2] == [], "said once"
    clock[0] += 1
    paths.heard(entry("agent", "claude-code:a", ["notes.md"]))  # the agent writes the person's file
    assert paths.split(["notes.md"])[2] == [said.format("notes.md")]
    clock[0] += attribution.BOTH_WINDOW + 1
    paths.heard(entry("agent", "claude-code:a", ["y.py"]))  # the person's save of y.py is long past
    assert paths.split(["y.py"])[2] == []


def test_the_last_agent_turn_is_its_prompt_and_what_it_did() -> None:
    from scribe_ls.core.agent_work import last_agent_turn
    from scribe_ls.model import Entry

    def entry(n: int, kind: str, text: str, author: str | None = "claude-code:a") -> Entry:
        return Entry(n, "s-1", f"2026-06-01T09:{n:02d}:00.000Z", kind, text, (), author)

    assert last_agent_turn([entry(1, "note", "mine", None)]) is None
    entries = [
        entry(1, "intent", "first ask"),
        entry(2, "agent", "edited a.py"),
        entry(3, "agent", "turn ended"),
        entry(4, "note", "a person's note", None),
        entry(5, "intent", "make the tests pass"),
        *(entry(6 + n, "agent", f"ran `pytest` → exit {n % 2}") for n in range(7)),
    ]
    turn = last_agent_turn(entries)
    assert turn == {
        "author": "claude-code:a",
        "at": "2026-06-01T09:05:00.000Z",
        "prompt": "make the tests pass",
        "did": [f"ran `pytest` → exit {n % 2}" for n in range(2, 7)],
        "stepsLeftOut": 2,
        "ended": False,
    }
    assert last_agent_turn([*entries, entry(20, "agent", "turn ended")])["ended"] is True  # type: ignore[index]


@pytest.mark.parametrize(
    ("tool", "tool_input", "said"),
    [
        ("Edit", {"old_string": "# demo", "new_string": "# demo, cached"}, " (+1/-1)"),
        # Lines the edit kept are not counted: one changed, one added.
        ("Edit", {"old_string": "a\nb\nc", "new_string": "a\nB\nc\nd"}, " (+2/-1)"),
        ("Edit", {"old_string": "x", "new_string": "y", "replace_all": True}, ""),  # how many places?
        ("Edit", {"old_string": 3, "new_string": "y"}, ""),
        (
            "MultiEdit",
            {"edits": [{"old_string": "a", "new_string": "b"}, {"old_string": "", "new_string": "x\ny"}]},
            " (+3/-1)",
        ),
        ("MultiEdit", {"edits": "all of them"}, ""),
        ("Write", {"content": "one\ntwo\nthree\n"}, " (+3)"),
        ("NotebookEdit", {"new_source": "print(1)"}, ""),
        # Over the cap every old line goes out and every new one comes in, as the tool replaced them.
        ("Edit", {"old_string": "k\n" * 2500, "new_string": "k\n" * 2501}, " (+2501/-2500)"),
    ],
)
def test_an_edit_says_the_lines_its_payload_changed(tool: str, tool_input: dict[str, Any], said: str) -> None:
    from scribe_ls.agents.hooks import lines_said

    assert lines_said(tool, tool_input) == said


def test_an_agents_work_adds_up_its_turns_files_lines_and_failures() -> None:
    from scribe_ls.core.agent_work import agent_work, said
    from scribe_ls.model import Entry

    def entry(
        n: int, kind: str, text: str, files: tuple[str, ...] = (), author: str = "claude-code:a"
    ) -> Entry:
        return Entry(n, "s-1", f"2026-06-01T09:{n:02d}:00.000Z", kind, text, files, author)

    work = agent_work(
        [
            entry(1, "intent", "add a cache"),
            entry(2, "agent", "wrote src/cache.py (+12)", ("src/cache.py",)),
            entry(3, "agent", "edited src/app.py (+3/-1)", ("src/app.py",)),
            entry(4, "agent", "edited src/app.py", ("src/app.py",)),  # a replace-all: no count
            entry(5, "agent", "ran `pytest` → exit 1"),
            entry(6, "agent", "turn ended"),
            entry(7, "intent", "again", author="claude-code:b"),  # a second run of the same agent
            entry(8, "note", "the person's", author=""),
        ]
    )
    assert work == [
        {
            "agent": "claude-code",
            "runs": 2,
            "turns": 2,
            "files": 2,
            "linesAdded": 15,
            "linesRemoved": 1,
            "failedCommands": 1,
        }
    ]
    assert said(work[0]) == "claude-code: 2 turns, 2 files (+15/-1 lines), 1 failed command"


GEMINI_FIXTURES = FIXTURES.parent / "gemini"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SessionStart.startup", [Record("agent", "agent session startup")]),
        ("BeforeAgent", [Record("intent", "Cache the context packet per HEAD and add a test for it")]),
        ("AfterTool.write_file", [Record("agent", "wrote src/cache.py (+1)", ("src/cache.py",))]),
        ("AfterTool.replace", [Record("agent", "edited README.md (+1/-1)", ("README.md",))]),
        ("AfterTool.run_shell_command", [Record("agent", "ran `pytest -q tests/test_cache.py` → exit 1")]),
        ("AfterTool.read_file", []),  # reading changes nothing
        ("AfterAgent", [Record("agent", "turn ended")]),
        ("PreCompress", [Record("agent", "context compacted (auto)")]),
        ("SessionEnd", [Record("agent", "agent session ended (exit)")]),
    ],
)
def test_a_documented_gemini_payload_records_what_it_says(name: str, expected: list[Record]) -> None:
    payload = json.loads((GEMINI_FIXTURES / f"{name}.json").read_text())
    assert records(payload["hook_event_name"], payload, ROOT, agent="gemini") == expected


@pytest.mark.parametrize(
    ("tool_response", "said"),
    [
        ({"llmContent": "Command: true\nExit Code: 0\nSignal: (none)"}, "ran `pytest` → exit 0"),
        (
            {"llmContent": "Command: sleep 9\nExit Code: (none)\nSignal: 15", "error": "killed"},
            "ran `pytest` → failed",
        ),
        # A result that does not say how it ended: the command, and no guess.
        ({"llmContent": "3 passed"}, "ran `pytest`"),
        ("not an object", "ran `pytest`"),
    ],
)
def test_a_gemini_shell_command_says_how_it_ended_only_when_its_result_does(
    tool_response: Any, said: str
) -> None:
    payload = {
        "tool_name": "run_shell_command",
        "tool_input": {"command": "pytest"},
        "tool_response": tool_response,
    }
    assert records("AfterTool", payload, ROOT, agent="gemini") == [Record("agent", said)]


def test_a_gemini_edit_that_failed_or_replaced_many_places_says_so() -> None:
    edit = json.loads((GEMINI_FIXTURES / "AfterTool.replace.json").read_text())
    failed = edit | {"tool_response": {"llmContent": "", "error": {"message": "0 occurrences found"}}}
    assert records("AfterTool", failed, ROOT, agent="gemini") == [
        Record("agent", "Edit of README.md failed: 0 occurrences found")
    ]
    many = edit | {"tool_input": edit["tool_input"] | {"expected_replacements": 3}}
    assert records("AfterTool", many, ROOT, agent="gemini") == [
        Record("agent", "edited README.md", ("README.md",))
    ]


def test_gemini_settings_take_our_named_hooks_and_keep_its_own_keys(tmp_path: Path) -> None:
    path = tmp_path / ".gemini" / "settings.json"
    path.parent.mkdir()
    theirs = {
        "tools": {"enableHooks": True},
        "hooks": {
            "disabled": ["secret-scanner"],
            "BeforeTool": [
                {
                    "matcher": "write_file",
                    "hooks": [{"name": "secret-scanner", "type": "command", "command": "scan"}],
                }
            ],
        },
    }
    path.write_text(json.dumps(theirs))
    assert hook_install.install(path, hook_install.GEMINI) is True
    merged = json.loads(path.read_text())
    assert merged["hooks"]["disabled"] == ["secret-scanner"] and merged["tools"] == {"enableHooks": True}
    (after_tool,) = merged["hooks"]["AfterTool"]
    assert after_tool["matcher"] == "write_file|replace|run_shell_command"
    (ours,) = after_tool["hooks"]
    assert ours["name"] == "scribe-ls-AfterTool" and ours["timeout"] == 5000  # milliseconds
    assert ours["command"].endswith(" hook gemini AfterTool")
    assert merged["hooks"]["SessionStart"][0]["hooks"][0]["timeout"] == 15000
    assert hook_install.status(path, hook_install.GEMINI)["missing"] == []
    assert hook_install.status(path)["installed"] == [], "Claude Code's hooks are another agent's"
    assert hook_install.uninstall(path, hook_install.GEMINI) is True
    assert json.loads(path.read_text()) == theirs


def test_the_cli_offers_the_agents_whose_hooks_are_installed() -> None:
    from scribe_ls.cli.parser import HOOK_AGENTS

    assert HOOK_AGENTS == tuple(hook_install.AGENTS)
