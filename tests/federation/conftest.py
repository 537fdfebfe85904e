"""Fixtures for the multi-process federation tests (hub + city nodes over loopback HTTP)."""

import pytest

from tests.federation.harness import Federation, build_templates


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
