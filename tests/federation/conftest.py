"""Fixtures for the multi-process federation tests (hub + city nodes over loopback HTTP)."""

import fcntl
import os

import pytest

from tests.federation import harness
from tests.federation.harness import Federation, build_templates, copy_templates

# Folders whose modules share one running federation (a package-scoped fixture in their
# conftest.py): on two workers each folder runs whole on one, or both would start it.
SHARED_FEDERATION_FOLDERS = ("tests/federation/flows/", "tests/federation/province/")


def pytest_xdist_make_scheduler(config, log):  # type: ignore[no-untyped-def]
    """`--dist loadfile` (XDIST_FEDERATION in the Makefile), with each of the folders above one
    unit of work instead of one per file."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FolderScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return next((f for f in SHARED_FEDERATION_FOLDERS if path.startswith(f)), path)

    return FolderScheduling(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing federation test shows the end of its processes' logs (web, worker…): the
    processes are gone when CI's output is read."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when == "call":
        for fed in harness.LIVE:
            for title, text in fed.log_tails():
                report.sections.append((f"log {title}", text))
        for fed in harness.LIVE:  # last: CI's output keeps the end
            report.sections.append(("answers failed or slow", fed.slow_or_failed_answers()))
            report.sections.append(("errors logged", fed.logged_errors()))


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    names = ["hub", "410100", "410300"]
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build_templates(tmp_path_factory.mktemp("fedtpl"), names)
    # Under pytest-xdist the first worker builds them (a minute of both cores) and every worker
    # copies them under its own names; the folder above the workers' is this run's.
    run = tmp_path_factory.getbasetemp().parent
    with open(run / "fedtpl.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (run / "fedtpl" / "built").exists():
            build_templates(run / "fedtpl", names, suffix="_built")
            (run / "fedtpl" / "built").touch()
        copy_templates(names, "_built")
    return {name: run / "fedtpl" / f"tpl-{name}" for name in names}


@pytest.fixture
def make_federation(templates, tmp_path):
    started = []

    def make(names=("hub", "410100"), **extra_env):
        fed = Federation(tmp_path, templates, list(names), **extra_env)
        started.append(fed)
        return fed

    yield make
    for fed in started:
        fed.stop()
