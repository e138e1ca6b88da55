"""Every command the web and the workers run goes through `commands.handling.handle`, which
retries it on a version conflict: a handler called directly would make one attempt only, and
a concurrent writer would turn a user's ping or a teammate's reply into an error. Handlers are
read with `ast`: functions of commands/ taking (command, store: Parley, clock: Clock). Those
that are several transactions call `handle` for each step themselves and are called directly.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _annotation(arg: ast.arg) -> str:
    return ast.unparse(arg.annotation) if arg.annotation is not None else ""


def _called(node: ast.AST) -> set[str]:
    return {
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }


def handlers() -> tuple[set[str], set[str]]:
    """(single-attempt handlers, handlers that handle their own steps, directly or through a
    helper that does), by name."""
    functions = {
        node.name: node
        for path in sorted((ROOT / "commands").glob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef)
    }
    stepping = {"handle"}
    while True:
        more = {name for name, node in functions.items() if _called(node) & stepping} - stepping
        if not more:
            break
        stepping |= more
    found = {
        name
        for name, node in functions.items()
        if len(node.args.args) >= 3
        and (_annotation(node.args.args[1]), _annotation(node.args.args[2])) == ("Parley", "Clock")
    }
    return found - stepping, found & stepping


def direct_calls(names: set[str]) -> list[str]:
    """Calls in web/ and workers/ of these functions, as imported from commands/."""
    found = []
    for package in ("web", "workers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            imported = {
                alias.asname or alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("commands.")
                for alias in node.names
                if alias.name in names
            }
            modules = {
                alias.asname or alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "commands"
                for alias in node.names
            }
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                called = node.func
                direct = isinstance(called, ast.Name) and called.id in imported
                through_module = (
                    isinstance(called, ast.Attribute)
                    and called.attr in names
                    and isinstance(called.value, ast.Name)
                    and called.value.id in modules
                )
                if direct or through_module:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(called)}")
    return found


def test_the_web_and_the_workers_run_every_handler_through_handle() -> None:
    single, several = handlers()
    assert {"record_ping", "reply", "save_user", "add_admin"} <= single  # the check sees them
    assert {"tag_users", "delete_tag"} <= several
    assert direct_calls(single) == []
