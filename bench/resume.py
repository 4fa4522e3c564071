"""Can a developer (or an agent) resume an item from the packet alone?

Scripts a realistic week on one backlog item: a repository whose main has history and
moves on during the week (other people's commits), a feature branch with ~40 commits, ~60
entries of every kind by a person and by an agent (decisions, todos opened and done, ideas,
notes, the last one naming a failing test), files left uncommitted, temporary files written
and gone, and a decision whose file changed after it. Then lists the facts one needs to
resume and measures how many the Markdown packet states at 1k, 2k, 4k and 8k tokens, and
how many false statements it makes (a section said empty that is not, a file listed as
changed that the branch never changed, a "None." anywhere). Also: the cold packet against
the bare git commands it needs, on the same repository, in the same run.

Targets: >= 90 % of the facts at 2k tokens, 100 % at 8k, 0 false statements; the cold
packet <= 1.3x the bare git commands. Prints a table, then one JSON line.

    python bench/resume.py
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _common import GIT

from scribe_ls import Scribe
from scribe_ls.git import safety as gitsafe

BUDGETS = (1000, 2000, 4000, 8000)


def git(root: Path, *args: str, date: str | None = None) -> str:
    env = {**os.environ, **({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {})}
    return subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True, text=True, env=env).stdout


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def build(root: Path) -> dict:
    """The repository and its week; returns what the facts are checked against."""
    git(root.parent, "init", "-q", "-b", "main", str(root))
    for n in range(50):
        write(root, f"src/click/mod{n:02d}.py", "".join(f"def f{k}(): return {k}\n" for k in range(40)))
    write(root, "src/click/termui.py", "def echo(text): return text\n")
    write(root, "src/click/formatting.py", "def wrap(text, width=78): return text\n")
    write(root, "tests/test_formatting.py", "def test_help_wraps(): assert True\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial import")
    for n in range(20):
        write(root, f"src/click/mod{n:02d}.py", f"# tuned by someone else {n}\n")
        git(root, "commit", "-qam", f"main: housekeeping {n}")
    git(root, "checkout", "-q", "-b", "feature/B-2001-better-help")
    branch_files = set()
    subject = ""
    for n in range(40):
        name = ("src/click/formatting.py", "src/click/termui.py", f"src/click/help{n % 6}.py")[n % 3]
        before = (root / name).read_text() if (root / name).exists() else ""
        write(root, name, before + f"# help step {n}\n")
        git(root, "add", name)
        subject = f"help: step {n} on {Path(name).stem}"
        git(root, "commit", "-q", "-m", subject)
        branch_files.add(name)
    # main moves on during the week.
    git(root, "checkout", "-q", "main")
    for n in range(5):
        write(root, f"src/click/mod{20 + n:02d}.py", f"# later on main {n}\n")
        git(root, "commit", "-qam", f"main: later {n}")
    git(root, "checkout", "-q", "feature/B-2001-better-help")
    return {
        "branch_files": branch_files | {"src/click/help_width.py"},
        "in_progress": {"src/click/formatting.py", "src/click/help_width.py"},
        "last_commit": subject,
        "others": {f"src/click/mod{n:02d}.py" for n in range(25)},
    }


async def record_week(root: Path) -> dict:
    """~60 entries by a person and an agent, and saves (temporary files among them) while
    the recorder watches; returns the entry facts."""
    (root / ".scribe").mkdir(exist_ok=True)
    (root / ".scribe" / "config.toml").write_text("activity_window = 0.2\n")
    async with Scribe(root, record=True) as scribe:
        await scribe.start_session()
        # Work in progress, and the temporary files an editor or sed leave for a moment.
        write(root, "src/click/formatting.py", (root / "src/click/formatting.py").read_text() + "# wip\n")
        write(root, "src/click/help_width.py", "WIDTH = 80\n")
        for temp in ("src/click/sedAb12Cd", "src/click/.formatting.py.x1y2.tmp"):
            write(root, temp, "temporary\n")
            (root / temp).unlink()
        await asyncio.sleep(0.6)  # the activity window closes: the saves are recorded
        decisions, todos, done = [], [], []
        for n in range(60):
            author = "claude-code" if n % 3 == 0 else None
            kind = ("note", "decision", "todo", "idea", "note")[n % 5]
            if kind == "decision":
                text = f"decision {n}: wrap help at the terminal width, keep {n} columns of margin"
                decisions.append(text)
            elif kind == "todo":
                text = f"document option group {n}"
                todos.append(text)
            elif kind == "idea":
                text = f"idea {n}: colour the usage line"
            else:
                text = f"looked at termui echo paths, step {n}"
            await scribe.append_entry(text, kind=kind, author=author)
            if kind == "todo" and n < 40:  # most todos get done
                await scribe.append_entry(f"done: {text}", kind="note", author=author)
                done.append(text)
        stale = "keep src/click/termui.py echo as it is"
        await scribe.append_entry(stale, kind="decision")
        decisions.append(stale)
        await scribe.append_entry(
            "test_help_wraps fails on narrow terminals (tests/test_formatting.py)", kind="note"
        )
    open_todos = [t for t in todos if t not in done]
    return {"decisions": decisions[-3:], "open_todos": open_todos, "stale": stale}


def facts(week: dict, entries: dict) -> dict[str, list[str]]:
    """What a developer needs to resume: each fact is a list of strings the packet must say."""
    return {
        "item and branch": ["B-2001", "feature/B-2001-better-help"],
        "the base and that it moved": ["Left main at", "main has 5 more since"],
        "the last commit": [week["last_commit"]],
        "the branch's commit count": ["40 on this branch since it left main"],
        **{f"open todo: {t}": [t] for t in entries["open_todos"]},
        **{f"decision: {d[:30]}": [d[:60]] for d in entries["decisions"]},
        "files in progress": sorted(week["in_progress"]),
        "the branch's files": sorted(week["branch_files"])[:6],
        "the failing test": ["test_help_wraps fails"],
        "the stale decision marked": ["files changed since: src/click/termui.py"],
    }


def false_statements(markdown: str, week: dict) -> list[str]:
    found = [phrase for phrase in ("None.", "No entries.", "No session.") if phrase in markdown]
    found += [
        f"lists {path}, which the branch never changed"
        for path in week["others"]
        if f"| {path} |" in markdown
    ]
    found += [f"lists a temporary file {name}" for name in ("sedAb12Cd", ".tmp") if name in markdown]
    return found


async def packet(root: Path, tokens: int) -> str:
    async with Scribe(root) as scribe:
        return (await scribe.context(format="markdown", max_chars=1_000_000, max_tokens=tokens))["markdown"]


async def resumed(root: Path) -> dict:
    async with Scribe(root) as scribe:
        return await scribe.resume()


async def cold_ms(root: Path) -> float:
    gitsafe._known.clear()
    async with Scribe(root) as scribe:
        started = time.perf_counter()
        await scribe.context(format="markdown", max_chars=12000)
        return (time.perf_counter() - started) * 1000


def bare_git_ms(root: Path, merge_base: str) -> float:
    """The git commands the packet needs, one after another, without scribe-ls."""
    started = time.perf_counter()
    for args in (
        ["for-each-ref", "refs/heads/main", "refs/remotes/origin/HEAD"],
        ["merge-base", "HEAD", "main"],
        ["rev-list", "--count", "--left-right", "main...HEAD"],
        ["status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all"],
        ["diff", merge_base],
        ["diff", "--name-only", merge_base, "HEAD"],
        ["log", "-n50", f"{merge_base}..HEAD"],
        ["log", "--since=2000-01-01", "--name-only", "-n5", "--", "src/click/termui.py"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="scribe-resume-") as tmp:
        root = Path(tmp) / "click"
        started = time.perf_counter()
        week = build(root)
        entries = asyncio.run(record_week(root))
        # The stale decision's file changes after it (edited, not committed).
        write(root, "src/click/termui.py", (root / "src/click/termui.py").read_text() + "# echo reworked\n")
        build_s = time.perf_counter() - started
        needed = facts(week, entries)
        results = {}
        for budget in BUDGETS:
            markdown = asyncio.run(packet(root, budget))
            stated = {name: all(s in markdown for s in strings) for name, strings in needed.items()}
            results[budget] = {
                "stated": sum(stated.values()),
                "share": sum(stated.values()) / len(needed),
                "missing": [name for name, ok in stated.items() if not ok],
                "false": false_statements(markdown, week),
                "chars": len(markdown),
            }
        resume = asyncio.run(resumed(root))
        recorded = set(resume["lastFiles"])
        merge_base = git(root, "merge-base", "HEAD", "main").strip()
        cold, bare = [], []
        for _ in range(15):  # alternating: both see the machine as it is at the moment
            cold.append(asyncio.run(cold_ms(root)))
            bare.append(bare_git_ms(root, merge_base))
    cold_med, bare_med = statistics.median(cold), statistics.median(bare)
    ratio = cold_med / bare_med
    print(f"a week on B-2001 (built in {build_s:.1f} s): {len(needed)} facts to resume")
    print(f"{'budget (tokens)':<18}{'facts stated':>14}{'share':>8}{'false':>7}{'chars':>8}  missing")
    for budget, row in results.items():
        missing = ", ".join(row["missing"][:3]) + (" …" if len(row["missing"]) > 3 else "")
        print(
            f"{budget:<18}{row['stated']:>10}/{len(needed):<3}{row['share']:>8.0%}{len(row['false']):>7}"
            f"{row['chars']:>8}  {missing}"
        )
    print(f"cold packet {cold_med:.1f} ms, the bare git commands it needs {bare_med:.1f} ms: {ratio:.2f}x")
    false_total = sum(len(row["false"]) for row in results.values())
    wrongly_recorded = sorted(path for path in recorded if path not in week["branch_files"])
    false_total += len(wrongly_recorded)
    print(
        f"files the session recorded: {sorted(recorded)}; not the branch's work: {wrongly_recorded or 'none'}"
    )
    false_total += len(false_statements(resume["markdown"], week))
    targets = {
        "facts@2k>=90%": results[2000]["share"] >= 0.9,
        "facts@8k=100%": results[8000]["share"] == 1.0,
        "false=0": false_total == 0,
        "cold<=1.3x_git": ratio <= 1.3,
    }
    print(
        json.dumps(
            {
                "bench": "resume",
                "facts": len(needed),
                "share_by_tokens": {str(b): round(r["share"], 3) for b, r in results.items()},
                "missing_by_tokens": {str(b): r["missing"] for b, r in results.items()},
                "false_statements": false_total,
                "cold_packet_ms": round(cold_med, 1),
                "bare_git_ms": round(bare_med, 1),
                "cold_over_git": round(ratio, 2),
                "targets": targets,
                "targets_met": all(targets.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
