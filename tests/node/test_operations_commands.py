"""Every `manage.py node|hub <command>` that docs/operations.md cites exists in that tier: found
among the management commands of the apps that tier's settings install (and Django's own)."""

import importlib
import re
from pathlib import Path

from django.apps import apps
from django.core.management import find_commands

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "operations.md"
CITED = re.compile(r"manage\.py (node|hub) ([a-z][a-z0-9_-]*)")
SETTINGS = {"node": "municipal_node.settings.base", "hub": "provincial_hub.settings.base"}


def commands_of(tier: str) -> set[str]:
    """The command names of the apps `tier` installs, without configuring Django for it."""
    installed = importlib.import_module(SETTINGS[tier]).INSTALLED_APPS
    names = set(
        find_commands(
            str(Path(importlib.import_module("django.core").__file__).parent / "management")
        )
    )
    for app in installed:
        module = importlib.import_module(app.rsplit(".apps.", 1)[0] if ".apps." in app else app)
        names |= set(find_commands(str(Path(module.__file__).parent / "management")))
    return names


def cited() -> set[tuple[str, str]]:
    return set(CITED.findall(RUNBOOK.read_text()))


def test_the_runbook_cites_commands_of_both_tiers():
    found = cited()
    assert ("node", "ops") in found and ("hub", "ops") in found
    assert ("node", "federation") in found and ("hub", "reconcile") in found
    assert len(found) >= 10


def test_every_command_the_runbook_cites_exists_in_its_tier():
    known = {tier: commands_of(tier) for tier in SETTINGS}
    # the node's own settings are the ones configured here: the two ways agree
    assert {c for c in known["node"] if c in {"ops", "federation", "pki", "holder_keys"}} == {
        "ops",
        "federation",
        "pki",
        "holder_keys",
    }
    assert apps.is_installed("shared.ops")
    missing = sorted(
        f"manage.py {tier} {name}" for tier, name in cited() if name not in known[tier]
    )
    assert missing == []


def test_a_command_that_does_not_exist_is_caught():
    assert "no-such-command" not in commands_of("hub")
    assert "reconcile" in commands_of("hub")
