"""One running federation (hub + 郑州) for the flows that leave it usable for the next.

Starting a federation costs ~20 s of two busy cores; these tests each add their own records
(new licences, requests, notices) and assert on those, so they share one, started once for
this folder and stopped when its last test ends (package scope: it never overlaps the
function-scoped federations of the other modules, which reuse the same database names).
"""

import pytest

from tests.federation.harness import Federation


@pytest.fixture(scope="package")
def federation(templates, tmp_path_factory):
    # JSON lines at INFO: test_federation_request_ids follows a request through the logs, and a
    # failing test's report (tests/federation/conftest.py) shows every answer with its duration
    fed = Federation(
        tmp_path_factory.mktemp("flows"),
        templates,
        ["hub", "410100"],
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
    )
    node = fed["410100"]
    node.extra_env["FILES_PUBLIC_BASE_URL"] = node.url  # QR codes point at this node (browser)
    fed.start()
    yield fed
    fed.stop()
