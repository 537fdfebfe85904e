"""Fixtures for the multi-process federation tests (hub + city nodes over loopback HTTP)."""

import pytest

from tests.federation import harness
from tests.federation.harness import Federation, build_templates


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


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    return build_templates(tmp_path_factory.mktemp("fedtpl"), ["hub", "410100", "410300"])


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
