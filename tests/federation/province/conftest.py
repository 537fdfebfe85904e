"""One running province (hub + 郑州 + 洛阳) for the cross-city flows that leave it usable.

Three libraries take ~75 s to start on two busy cores: the trust list, the federated query and
the hub's downward push share one, started once for this folder (package scope, as
tests/federation/flows/). Trust lists are fetched every 2 s, and each library serves its QR
codes and status lists at its own URL, as in a real province.
"""

import pytest

from tests.federation.harness import Federation


@pytest.fixture(scope="package")
def fed(templates, tmp_path_factory):
    federation = Federation(
        tmp_path_factory.mktemp("province"),
        templates,
        ["hub", "410100", "410300"],
        TRUST_LIST_FETCH_SECONDS="2",
    )
    for lib in federation.libs.values():
        lib.extra_env["FILES_PUBLIC_BASE_URL"] = lib.url
    try:
        federation.start()
        yield federation
    finally:
        federation.stop()
