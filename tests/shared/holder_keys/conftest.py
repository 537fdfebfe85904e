"""Fixtures for holder-code key rotation: a keyring switch and the key versions' cache reset."""

import pytest

from shared.core.holder_codes import holder_keyring_reset
from tests.support import make_uscc

NEW_KEY = "n" * 40


@pytest.fixture(autouse=True)
def _fresh_keyring():
    holder_keyring_reset()
    yield
    holder_keyring_reset()


@pytest.fixture
def add_new_key(settings):
    """Configure version 2 in front of the key the rows were written with (version 1)."""

    def add() -> str:
        settings.HOLDER_CODE_KEYS = f"2:{NEW_KEY},1:{settings.HOLDER_CODE_KEY}"
        holder_keyring_reset()
        return settings.HOLDER_CODE_KEYS

    return add


def holder_code(i: int) -> str:
    return make_uscc(dept="91", area="410100", body=f"MK{i:06d}")


@pytest.fixture
def issue(issue_payload):
    """Issue licence `i` (its own number and holder) with an API client; the identifier."""

    def run(client, i: int) -> str:
        body = issue_payload(
            number=f"HK{i:06d}",
            holder={"name": f"轮换企业{i}", "code": holder_code(i), "code_type": "001"},
        )
        response = client.post("/api/v1/licenses/", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()["identifier"]

    return run
