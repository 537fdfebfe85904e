"""The public verify path's per-process memory (shared.files.verify_cache, issue #16 item 7):
a scan seen before touches no database, and a change still shows within VERIFY_STATUS_SECONDS
whoever made it (at once when this process made it); an expired code is never valid."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.files import verification, verify_cache
from shared.licenses.models import License
from tests.shared.files.files_support import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def licence(issuer, issue_payload, pki):
    body = issue(issuer, issue_payload())
    response = issuer.post(f"/api/v1/licenses/{body['identifier']}/qr-token/")
    assert response.status_code == 201, response.json()
    return {"identifier": body["identifier"], "token": response.json()["token"]}


def outcome(client, token):
    response = client.get(f"/api/v1/public/verify/{token}")
    assert response.status_code == 200
    return response.json()["outcome"]


def test_a_code_scanned_again_touches_no_database(
    settings, anon, issuer, licence, django_assert_num_queries
):
    # given: a bound long enough that no state refresh falls inside the test
    settings.VERIFY_STATUS_SECONDS = 60
    assert outcome(anon, licence["token"]) == "valid"
    another = issuer.post(f"/api/v1/licenses/{licence['identifier']}/qr-token/").json()["token"]
    # when / then: the same code again, and another code of the same licence
    with django_assert_num_queries(0):
        assert outcome(anon, licence["token"]) == "valid"
        assert outcome(anon, another) == "valid"


class Clock:
    """verify_cache's clock, moved by the test: the bound is checked to the second without
    depending on how long a scan takes on a busy host."""

    def __init__(self) -> None:
        self.now, self.calls = 1000.0, 0

    def monotonic(self) -> float:
        self.calls += 1
        return self.now


def test_a_change_written_elsewhere_shows_within_the_bound(settings, monkeypatch, anon, licence):
    # given: a scan remembered at t = 1000 s, and a bound of two seconds
    settings.VERIFY_STATUS_SECONDS = 2
    clock = Clock()
    monkeypatch.setattr(verify_cache, "time", clock)
    assert outcome(anon, licence["token"]) == "valid"
    # when: the licence is revoked by a write that sends no signal to this process (another
    # web process, the hub's bulk ingest, a repair)
    License.objects.filter(identifier=licence["identifier"]).update(status="revoked")
    # then: remembered while the state is younger than the bound, revoked once it is older
    clock.now = 1001.9
    assert outcome(anon, licence["token"]) == "valid"
    clock.now = 1002.1
    assert outcome(anon, licence["token"]) == "revoked"
    assert clock.calls >= 3


def test_a_change_made_in_this_process_shows_at_once(settings, anon, issuer, licence):
    settings.VERIFY_STATUS_SECONDS = 60
    assert outcome(anon, licence["token"]) == "valid"
    # when: suspended through the service (which tells this process's memory)
    response = issuer.post(
        f"/api/v1/licenses/{licence['identifier']}/suspend/", {"reason": "暂扣检查"}, format="json"
    )
    assert response.status_code == 200, response.json()
    # then
    assert outcome(anon, licence["token"]) == "suspended"
    response = issuer.post(
        f"/api/v1/licenses/{licence['identifier']}/resume/", {"reason": "恢复"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert outcome(anon, licence["token"]) == "valid"


def test_a_new_version_supersedes_a_remembered_code(settings, anon, issuer, licence):
    settings.VERIFY_STATUS_SECONDS = 60
    assert outcome(anon, licence["token"]) == "valid"
    response = issuer.post(
        f"/api/v1/licenses/{licence['identifier']}/amend/",
        {"surface": {"经营者名称": "郑州豫中食品股份有限公司"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert outcome(anon, licence["token"]) == "superseded"


def test_a_remembered_code_still_expires(settings, anon, licence):
    settings.VERIFY_STATUS_SECONDS = 60
    assert outcome(anon, licence["token"]) == "valid"
    # when: the same code checked after its expiry
    later = timezone.now() + timedelta(days=20 * 366)
    check = verification.token_check(licence["token"], now=later)
    # then
    assert (check.outcome, check.info_code, check.as_dict()["license"]) == ("qr_expired", 4, None)


def test_memory_is_bounded(settings, monkeypatch, anon, issuer, issue_payload, pki):
    settings.VERIFY_STATUS_SECONDS = 60
    monkeypatch.setattr(verify_cache, "VERSION_ENTRIES", 2)
    monkeypatch.setattr(verify_cache, "TOKEN_ENTRIES", 2)
    tokens = []
    for _ in range(3):
        body = issue(issuer, issue_payload())
        tokens.append(issuer.post(f"/api/v1/licenses/{body['identifier']}/qr-token/").json())
    for item in tokens:
        assert outcome(anon, item["token"]) == "valid"
    assert len(verify_cache._versions) == 2 and len(verify_cache._tokens) == 2
    # the first one was dropped, the last two kept
    assert tokens[0]["token"] not in verify_cache._tokens
    assert tokens[2]["token"] in verify_cache._tokens


def test_a_key_prefix_that_finds_nothing_is_not_remembered():
    # given: a prefix with no key yet (a rotation in another process makes it a moment later)
    loads = []

    def load(alg, prefix):
        loads.append(prefix)
        return [] if len(loads) == 1 else ["key"]

    # when / then: the second lookup reads again and finds it; the third is remembered
    assert verify_cache.token_keys("SM2-SM3", "abcd1234", load=load) == []
    assert verify_cache.token_keys("SM2-SM3", "abcd1234", load=load) == ["key"]
    assert verify_cache.token_keys("SM2-SM3", "abcd1234", load=load) == ["key"]
    assert loads == ["abcd1234", "abcd1234"]


def test_the_answer_is_the_same_json_and_other_methods_keep_the_error_shape(anon, licence):
    # given: the GET answers outside DRF's dispatch (the hot path), other methods through it
    from rest_framework.renderers import JSONRenderer

    path = f"/api/v1/public/verify/{licence['token']}"
    # when
    got = anon.get(path)
    posted = anon.post(path, {}, format="json")
    # then: the very bytes DRF's renderer makes of the check, and a 405 in the one error shape
    expected = JSONRenderer().render(verification.token_check(licence["token"]).as_dict())
    assert (got.status_code, got["Content-Type"]) == (200, "application/json")
    assert got.content == expected
    assert posted.status_code == 405
    assert set(posted.json()) == {"code", "message", "detail"}
