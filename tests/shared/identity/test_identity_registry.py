"""The registry fallback enrolment (/holder/enrol/): name and code checked against the
population / legal-entity registry (a real HTTP reference service) before an account is made."""

import pytest
from django.test import Client

from shared.accounts.models import User
from shared.audit.models import AuditEntry
from shared.core.holder_codes import holder_code_digest
from tests.shared.identity.conftest import COMPANY_CODE, ZHANG_CODE

pytestmark = pytest.mark.django_db


def form(**changes):
    values = {
        "name": "张伟",
        "code": ZHANG_CODE,
        "code_type": "111",
        "username": "zhangwei",
        "password": "Holder-12345",
    }
    return values | changes


def holders():
    return User.objects.filter(role=User.Role.HOLDER)


def test_a_holder_the_registry_knows_is_enrolled(registry):
    # given
    client = Client()
    # when
    response = client.post("/holder/enrol/", form())
    # then
    assert (response.status_code, response["Location"]) == (302, "/holder/otp/")
    holder = holders().get()
    assert (holder.username, holder.display_name, holder.holder_code) == (
        "zhangwei",
        "张伟",
        ZHANG_CODE,
    )
    assert holder.check_password("Holder-12345")
    assert registry.requests == [f"/population/{ZHANG_CODE}"]
    entry = AuditEntry.objects.get(action="account.enrol")
    assert (entry.target_id, entry.detail["path"]) == (str(holder.pk), "registry")
    # signed in, not verified: the portal sends the holder on to bind an authenticator
    assert client.get("/holder/")["Location"] == "/holder/otp/?next=/holder/"


def test_a_legal_person_is_checked_against_the_legal_entity_registry(registry):
    response = Client().post(
        "/holder/enrol/",
        form(name="郑州豫中食品有限公司", code=COMPANY_CODE, code_type="001", username="yuzhong"),
    )
    assert response.status_code == 302
    assert registry.requests == [f"/legal-entities/{COMPANY_CODE}"]
    assert holders().get().holder_code_digest == holder_code_digest(COMPANY_CODE)


def test_a_name_mismatch_is_refused_and_nothing_is_made(registry):
    # given
    client = Client()
    # when
    response = client.post("/holder/enrol/", form(name="张伟伟"))
    # then
    assert response.status_code == 400
    text = response.content.decode()
    assert 'data-code="enrol.registry_mismatch"' in text
    assert "姓名（名称）与人口库登记的不一致，未创建账户" in text
    assert not User.objects.filter(username="zhangwei").exists()
    assert not AuditEntry.objects.filter(action="account.enrol").exists()
    assert client.session.get("_auth_user_id") is None


def test_an_unknown_code_is_refused(registry):
    from tests.support import make_citizen_id

    unknown = make_citizen_id(area="410102", birth="19850101", seq="456")
    response = Client().post("/holder/enrol/", form(code=unknown))
    assert response.status_code == 400
    assert "人口库中查无此证件号码，未创建账户" in response.content.decode()
    assert holders().count() == 0


def test_a_malformed_code_is_refused_without_asking_the_registry(registry):
    bad_check = ZHANG_CODE[:-1] + ("1" if ZHANG_CODE[-1] != "1" else "2")
    response = Client().post("/holder/enrol/", form(code=bad_check))
    assert response.status_code == 400
    assert 'data-code="enrol.code_invalid"' in response.content.decode()
    assert registry.requests == []
    assert holders().count() == 0


def test_a_registry_that_does_not_answer_is_retryable_and_makes_nothing(settings):
    # given
    settings.REGISTRY_ADAPTER = "http"
    settings.REGISTRY_URL = "http://127.0.0.1:9"
    # when
    response = Client().post("/holder/enrol/", form())
    # then
    assert response.status_code == 503
    assert "人口库/法人库比对服务暂不可用，请稍后重试" in response.content.decode()
    assert holders().count() == 0


def test_without_a_registry_nobody_enrols_this_way(settings):
    settings.REGISTRY_ADAPTER = "off"
    response = Client().post("/holder/enrol/", form())
    assert response.status_code == 400
    assert 'data-code="enrol.registry_unsupported"' in response.content.decode()
    assert holders().count() == 0


def test_a_code_that_already_has_an_account_is_not_enrolled_twice(registry):
    # given
    assert Client().post("/holder/enrol/", form()).status_code == 302
    # when
    response = Client().post("/holder/enrol/", form(username="zhangwei2"))
    # then
    assert response.status_code == 409
    assert "该证件号码已注册持证人账户" in response.content.decode()
    assert list(holders().values_list("username", flat=True)) == ["zhangwei"]


def test_a_short_password_is_refused(registry):
    response = Client().post("/holder/enrol/", form(password="short"))
    assert response.status_code == 400
    assert "密码至少 10 位" in response.content.decode()
    assert holders().count() == 0
    assert registry.requests == []


def test_guessing_names_for_a_code_runs_out_of_budget(registry, settings):
    # given: the budget of tries per address and per code
    settings.HOLDER_ENROL_PER_MINUTE = 3
    client = Client()
    for guess in ("张三", "张四", "张五"):
        assert client.post("/holder/enrol/", form(name=guess)).status_code == 400
    asked = len(registry.requests)
    # when: one more try, even with the right name
    response = client.post("/holder/enrol/", form())
    # then
    assert response.status_code == 429
    assert "注册核验过于频繁，请稍后再试" in response.content.decode()
    assert len(registry.requests) == asked == 3  # the registry was not asked again
    assert holders().count() == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"code_type": "999"},
        {"code_type": ""},
        {"code": ""},
        {"code": "x" * 300},
        {"name": ""},
        {"username": ""},
        {"code_type": "414", "code": "E12345678"},  # a passport: no registry covers it
    ],
    ids=str,
)
def test_odd_input_is_a_refusal_not_an_error(registry, changes):
    response = Client().post("/holder/enrol/", form(**changes))
    assert 400 <= response.status_code < 500
    assert 'data-testid="enrol-error"' in response.content.decode()
    assert holders().count() == 0
