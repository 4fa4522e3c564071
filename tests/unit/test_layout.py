"""The layout reads like the design: packages for the layers, no module over 500 lines,
package ``__init__`` files that import nothing (the CLI pays only for what it uses), no
import circle (lazy and type-checking imports included), and a unit layer that cannot
start a process."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "scribe_ls"
MAX_LINES = 500
# What each layer is: the packages the design names.
LAYERS = (
    "contract",
    "core",
    "store",
    "worklog",
    "git",
    "cli",
    "rpc",
    "context",
    "recording",
    "agents",
    "daemon",
)


def python_files(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize(
    "path", python_files(PACKAGE, ROOT / "bench", ROOT / "tests"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_no_module_is_over_500_lines(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by what it does"


def test_the_layers_are_packages() -> None:
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
    top = sorted(p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_"))
    assert len(top) <= 15, f"the top level is for shared foundations, not {top}"


@pytest.mark.parametrize("init", sorted(PACKAGE.glob("*/__init__.py")), ids=lambda p: p.parent.name)
def test_a_package_init_imports_only_what_it_hands_on(init: Path) -> None:
    tree = ast.parse(init.read_text(encoding="utf-8"))
    imports = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    for node in imports:
        assert isinstance(node, ast.ImportFrom) and node.level == 1, f"{init}: only its own modules"
    for node in tree.body:  # a docstring, its own modules' names, and __all__: nothing else
        handed_on = isinstance(node, ast.ImportFrom) or (
            isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]
        )
        docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        assert handed_on or docstring, f"{init} holds code; give it a module of its own"


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every scribe_ls module ``path`` imports, at any depth (lazy and TYPE_CHECKING ones too)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                found.add(f"{target}.{alias.name}")
                found.add(target)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("scribe_ls")}


def test_no_import_circle() -> None:
    modules = {_module(p): p for p in python_files(PACKAGE)}
    graph = {
        name: {m for m in _imports(path) if m in modules and m != name and not name.startswith(m + ".")}
        for name, path in modules.items()
    }
    # A package's __init__ hands its modules on: an import of the package is not a cycle edge.
    graph = {
        name: {m for m in deps if not (PACKAGE / Path(*m.split(".")[1:]) / "__init__.py").exists()}
        for name, deps in graph.items()
    }
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_unit_layer_cannot_start_a_process() -> None:
    with pytest.raises(AssertionError, match="started a process"):
        subprocess.run(["true"], check=False)
