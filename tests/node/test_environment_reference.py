"""docs/environment.md names every environment variable the settings and Celery apps read."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "environment.md"
READERS = {"env", "env_int", "env_bool"}


def settings_sources() -> list[Path]:
    files = [
        *sorted((ROOT / "shared" / "conf").glob("*.py")),
        *sorted((ROOT / "municipal_node" / "settings").glob("*.py")),
        *sorted((ROOT / "provincial_hub" / "settings").glob("*.py")),
        ROOT / "municipal_node" / "celery.py",
        ROOT / "provincial_hub" / "celery.py",
    ]
    return [path for path in files if path.exists()]


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def variables_read(source: str) -> set[str]:
    """Every literal name passed to env()/env_int()/env_bool(), os.environ.get()/setdefault()/[…]
    and os.getenv()."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if (isinstance(func, ast.Name) and func.id in READERS) or (
                isinstance(func, ast.Attribute)
                and (
                    (func.attr in {"get", "setdefault", "pop"} and _is_os_environ(func.value))
                    or (
                        func.attr == "getenv"
                        and isinstance(func.value, ast.Name)
                        and func.value.id == "os"
                    )
                )
            ):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def documented() -> set[str]:
    """Variable names in the first column of the reference's tables: | `NAME` | …"""
    return set(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", REFERENCE.read_text(), re.MULTILINE))


def test_the_extractor_sees_every_form_of_read():
    source = (
        "import os\n"
        'A = env("A_VAR", "x")\n'
        'B = env_int("B_VAR", 1)\n'
        'C = env_bool("C_VAR", True)\n'
        'D = os.environ.get("D_VAR", "")\n'
        'os.environ.setdefault("E_VAR", "e")\n'
        'F = os.environ["F_VAR"]\n'
        'G = os.getenv("G_VAR")\n'
        'H = other("NOT_A_VAR")\n'
    )
    assert variables_read(source) == {f"{c}_VAR" for c in "ABCDEFG"}


def test_the_settings_read_many_variables():
    names = set().union(*(variables_read(p.read_text()) for p in settings_sources()))
    # A guard against an extractor that silently finds nothing.
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "NODE_CODE", "VAR_DIR"} <= names
    assert len(names) > 100


def test_every_variable_read_is_in_the_reference():
    missing = {}
    for path in settings_sources():
        for name in variables_read(path.read_text()) - documented():
            missing.setdefault(name, []).append(str(path.relative_to(ROOT)))
    assert not missing, f"not in docs/environment.md: {missing}"


def test_the_reference_names_no_variable_nobody_reads():
    read = set().union(*(variables_read(p.read_text()) for p in settings_sources()))
    # Read outside the settings: manage.py picks a tier's settings module, pytest-xdist names
    # its worker, the test settings take the test URLs.
    elsewhere = {"HUB_SETTINGS_MODULE", "NODE_SETTINGS_MODULE"}
    assert documented() - read - elsewhere == set()
