"""A row lock taken with joined rows locks only its own table (`of=("self",)`).

`select_for_update().select_related(...)` makes PostgreSQL lock every joined row too: a licence
change then also locked its issuing agency and its type, and two changes of different licences
of one agency deadlocked under the province benchmark (issue #16). This finds every such chain
in the code, so that a new one cannot come back unnoticed."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("shared", "municipal_node", "provincial_hub")


def _calls(node: ast.AST) -> list[ast.Call]:
    """The chain of method calls an expression is made of, outermost first."""
    chain = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        chain.append(node)
        node = node.func.value
    return chain


def _locks_joined_rows(call: ast.Call) -> bool:
    chain = _calls(call)
    names = [c.func.attr for c in chain]  # type: ignore[attr-defined]
    if "select_for_update" not in names or "select_related" not in names:
        return False
    lock = chain[names.index("select_for_update")]
    return not any(k.arg == "of" for k in lock.keywords)


def test_no_lock_with_joined_rows_locks_them_too():
    offenders = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _locks_joined_rows(node):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert sorted(set(offenders)) == []


def test_the_check_finds_a_chain_that_locks_joined_rows():
    tree = ast.parse("License.objects.select_for_update().select_related('issuer').filter(pk=1)")
    fixed = ast.parse(
        "License.objects.select_for_update(of=('self',)).select_related('issuer').first()"
    )
    assert any(_locks_joined_rows(n) for n in ast.walk(tree) if isinstance(n, ast.Call))
    assert not any(_locks_joined_rows(n) for n in ast.walk(fixed) if isinstance(n, ast.Call))
