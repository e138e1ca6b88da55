"""Imports point one way (DESIGN.md): web, workers -> commands, queries -> domain, projections;
domain imports nothing of the others, workers nothing of web; and no two modules import each
other, even through an import placed inside a function. Every module is read with `ast`."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("domain", "projections", "commands", "queries", "workers", "web", "migrations")
MAY_IMPORT = {
    "domain": {"domain"},
    "projections": {"domain", "projections"},
    "commands": {"domain", "projections", "commands"},
    "queries": {"domain", "projections", "queries"},
    "workers": {"domain", "projections", "commands", "queries", "workers"},
    # The composition root (web/bootstrap.py) wires workers and runs the migrations.
    "web": set(PACKAGES),
    "migrations": {"domain", "projections", "migrations"},
}


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield name.removesuffix(".__init__"), path


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every Parley module this file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name in known)
    return found


def graph() -> dict[str, set[str]]:
    listed = dict(modules())
    known = set(listed)
    return {name: imports_of(path, known) - {name} for name, path in listed.items()}


def cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Groups of modules that reach each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_check_finds_cycles_and_wrong_directions() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_point_one_way() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in sorted(targets)
        if target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_module_imports_itself_back_through_others() -> None:
    assert cycles(graph()) == []
