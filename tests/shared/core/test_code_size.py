"""Modules stay small and functions short (STYLE.md, issue #11): a module of the tiers' code
(shared/, provincial_hub/, municipal_node/; migrations excepted) has at most 400 lines, a
function at most 60 lines of body (its docstring not counted). Anything over would be listed
here with its current size, so it can shrink but not grow; split it rather than raise a number."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("shared", "provincial_hub", "municipal_node")
MODULE_LINES = 400
FUNCTION_LINES = 60

# Over the limit (none since issue #11 split the last ones): path → lines.
MODULES_OVER: dict[str, int] = {}
# "path:function" → body lines.
FUNCTIONS_OVER: dict[str, int] = {}


def _sources():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = node.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return node.end_lineno - body[0].lineno + 1


def _sizes():
    modules, functions = {}, {}
    for path, text in _sources():
        modules[path] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{path}:{node.name}"
                functions[name] = max(functions.get(name, 0), _body_lines(node))
    return modules, functions


def test_modules_are_at_most_400_lines_or_listed_and_not_growing():
    modules, _ = _sizes()
    over = {path: lines for path, lines in modules.items() if lines > MODULE_LINES}
    assert {p: n for p, n in over.items() if n > MODULES_OVER.get(p, MODULE_LINES)} == {}
    # a listed module that shrank below the limit comes off the list
    assert set(MODULES_OVER) <= set(over)


def test_functions_are_at_most_60_lines_or_listed_and_not_growing():
    _, functions = _sizes()
    over = {name: lines for name, lines in functions.items() if lines > FUNCTION_LINES}
    assert {f: n for f, n in over.items() if n > FUNCTIONS_OVER.get(f, FUNCTION_LINES)} == {}
    assert set(FUNCTIONS_OVER) <= set(over)
