"""The issuing and application agencies' screens over the same services as the API: the
generated issue form with inline errors, search and detail, an action behind its
confirmation, a QR; the purpose-bound query and verifying a QR by its URL."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from shared.access.models import AccessRecord
from shared.licenses.models import License
from tests.shared.access.conftest import MATTER, grant, issue
from tests.support import make_citizen_id, make_type, make_uscc

pytestmark = pytest.mark.django_db


def issue_form(license_type, **overrides):
    today = timezone.localdate()
    form = {
        "number": "JY14101000099999",
        "matter_code": "M0001",
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "mode": "online",
        "case_completed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "holder.name": "郑州豫中食品有限公司",
        "holder_code_type": "001",
        "holder_code": make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        "surface__经营者名称": "郑州豫中食品有限公司",
        "surface__经营项目": "预包装食品销售",
        "surface__从业人数": "12",
    }
    form.update(overrides)
    return form


def test_the_form_is_generated_from_the_surface_schema(issuer_console, license_type):
    page = issuer_console.get(f"/console/catalogue/{license_type.type_code}/issue/")
    text = page.content.decode()
    assert page.status_code == 200
    assert 'name="surface__经营者名称"' in text and 'name="surface__经营项目"' in text
    assert 'name="surface__从业人数"' in text and 'type="number"' in text
    assert "001 统一社会信用代码" in text  # a type for legal persons: no citizen ID offered


def test_a_type_without_a_maximum_validity_opens_the_form_long_term(issuer_console, issuer_user):
    # given: a type for people, valid without end (as the demo's 个体工商户营业执照)
    endless = make_type(
        issuer_user, seq=9, requires_review=False, validity_max_days=None, holder_category="person"
    )
    # when
    page = issuer_console.get(f"/console/catalogue/{endless.type_code}/issue/").content.decode()
    # then: 长期有效 is ticked, so the form as opened issues without an end date
    assert re.search(r'<input type="checkbox" name="long_term"[^>]* checked>', page)
    posted = issuer_console.post(
        f"/console/catalogue/{endless.type_code}/issue/",
        issue_form(
            endless,
            valid_to="",
            long_term="on",
            holder_code_type="111",
            holder_code=make_citizen_id(area="410102", birth="19850312", seq="123"),
        ),
    )
    assert posted.status_code == 302, posted.content.decode()[-1500:]
    assert License.objects.get(license_type=endless).valid_to is None


def test_a_type_with_a_maximum_validity_opens_the_form_with_an_end_date(
    issuer_console, license_type
):
    page = issuer_console.get(
        f"/console/catalogue/{license_type.type_code}/issue/"
    ).content.decode()
    assert re.search(r'<input type="checkbox" name="long_term"[^>]*>', page)
    assert not re.search(r'<input type="checkbox" name="long_term"[^>]* checked>', page)


def test_a_bad_holder_code_is_refused_beside_its_field_and_nothing_is_issued(
    issuer_console, license_type
):
    bad = make_uscc(dept="91", area="410100", body="MA3X7Y8L")[:-1] + "0"
    response = issuer_console.post(
        f"/console/catalogue/{license_type.type_code}/issue/",
        issue_form(license_type, holder_code=bad, **{"surface__经营者名称": ""}),
    )
    text = response.content.decode()
    assert response.status_code == 400
    assert "校验" in text and 'data-testid="holder-code-error">统一社会信用代码' in text
    assert License.objects.count() == 0
    # the values typed stay in the form
    assert bad in text and "JY14101000099999" in text


def test_a_missing_surface_field_is_named_beside_it(issuer_console, license_type):
    response = issuer_console.post(
        f"/console/catalogue/{license_type.type_code}/issue/",
        issue_form(license_type, **{"surface__经营者名称": ""}),
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert '-error">缺少必填字段 经营者名称<' in text
    assert (
        'name="surface__经营者名称" value="" maxlength="100" required aria-invalid="true"' in text
    )
    assert License.objects.count() == 0


def test_issue_search_detail_and_suspend_behind_its_confirmation(issuer_console, license_type):
    # when: issued through the form
    response = issuer_console.post(
        f"/console/catalogue/{license_type.type_code}/issue/", issue_form(license_type)
    )
    lic = License.objects.get()
    assert response.status_code == 302 and response.url == f"/console/licences/{lic.identifier}/"
    assert lic.surface == {
        "经营者名称": "郑州豫中食品有限公司",
        "经营项目": "预包装食品销售",
        "从业人数": 12,
    }
    # then: found by its holder's name and by its holder code
    assert lic.identifier in issuer_console.get("/console/licences/?q=豫中").content.decode()
    code = make_uscc(dept="91", area="410100", body="MA3X7Y8L")
    assert (
        lic.identifier
        in issuer_console.get(f"/console/licences/?holder_code={code}").content.decode()
    )
    detail = issuer_console.get(f"/console/licences/{lic.identifier}/").content.decode()
    assert "/act/suspend/" in detail and "事件" in detail
    # a suspension without its reason is refused and changes nothing
    act = f"/console/licences/{lic.identifier}/act/suspend/"
    assert "确认暂扣" in issuer_console.get(act).content.decode()
    refused = issuer_console.post(act, {"reason": "", "version": lic.version})
    assert refused.status_code == 409
    lic.refresh_from_db()
    assert lic.status == "valid"
    # with its reason it is done and recorded
    done = issuer_console.post(
        act, {"reason": "经营场所不符合要求，责令整改", "version": lic.version}
    )
    assert done.status_code == 302
    lic.refresh_from_db()
    assert lic.status == "suspended"
    assert lic.events.order_by("-seq").first().reason == "经营场所不符合要求，责令整改"


def test_another_agency_sees_no_licence_of_ours(issuer_user, license_type, other_issuer_user):
    from tests.console_support import console_client

    lic = issue(issuer_user, license_type)
    other = console_client(other_issuer_user)
    assert other.get(f"/console/licences/{lic.identifier}/").status_code == 404
    assert (
        other.post(f"/console/licences/{lic.identifier}/act/revoke/", {"reason": "x"}).status_code
        == 404
    )
    lic.refresh_from_db()
    assert lic.status == "valid"


def test_holder_code_is_checked_as_typed(issuer_console):
    good = make_uscc(dept="91", area="410100", body="MA3X7Y8L")
    ok = issuer_console.get("/console/check/holder-code/", {"code": good, "code_type": "001"})
    bad = issuer_console.get(
        "/console/check/holder-code/", {"code": good[:-1] + "0", "code_type": "001"}
    )
    assert ok.json()["ok"] is True
    assert bad.json()["ok"] is False and "校验" in bad.json()["message"]


def test_the_purpose_bound_query_needs_matter_and_purpose_and_is_recorded(
    consumer_console, consumer_agency, license_type, issuer_user
):
    lic = issue(issuer_user, license_type)
    grant(consumer_agency, license_type)
    holder = {
        "holder_code": make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        "holder_code_type": "001",
    }
    # no purpose: refused, and the refusal is an access record
    refused = consumer_console.post("/console/use/query/", {**holder, "matter_code": MATTER})
    assert refused.status_code == 403 and "用证事由" in refused.content.decode()
    assert AccessRecord.objects.filter(
        outcome="refused", reason_code="access.purpose_required"
    ).exists()
    # with holder, matter and purpose: the licence, recorded as a query
    found = consumer_console.post(
        "/console/use/query/", {**holder, "matter_code": MATTER, "use_cause": "办理变更，核验原证"}
    )
    assert found.status_code == 200 and lic.identifier in found.content.decode()
    assert AccessRecord.objects.filter(
        operation="query",
        outcome="allowed",
        identifier=lic.identifier,
        use_cause="办理变更，核验原证",
    ).exists()


def test_a_qr_made_at_the_counter_verifies_for_a_consumer(
    issuer_console, consumer_console, consumer_agency, license_type, issuer_user, pki
):
    import re

    lic = issue(issuer_user, license_type)
    grant(consumer_agency, license_type)
    page = issuer_console.post(f"/console/licences/{lic.identifier}/qr/").content.decode()
    url = re.search(r'data-testid="qr-url">([^<]+)<', page).group(1)
    assert "/V/" in url and 'src="data:image/png;base64,' in page
    answer = consumer_console.post(
        "/console/use/verify-qr/", {"url": url, "matter_code": MATTER, "use_cause": "核验营业执照"}
    ).content.decode()
    assert "信息正确且有效" in answer and lic.number in answer


def test_a_sealed_file_verifies_and_a_forged_one_does_not(
    consumer_console, consumer_agency, license_type, issuer_user, pki
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shared.files import storage
    from tests.shared.files.files_support import render_pending

    lic = issue(issuer_user, license_type)
    grant(consumer_agency, license_type)
    row = render_pending()[0]
    data = storage.read(row.path)
    purpose = {"matter_code": MATTER, "use_cause": "核验持证人出示的电子证照"}
    sealed = consumer_console.post(
        "/console/use/verify-file/", {**purpose, "file": SimpleUploadedFile("a.pdf", data)}
    ).content.decode()
    assert "文件验证通过" in sealed and "信息正确且有效" in sealed and lic.number in sealed
    altered = data.replace(b"%%EOF", b"%%EOF\n% altered\n", 1)[:-40] + b"\n%%EOF\n"
    forged = consumer_console.post(
        "/console/use/verify-file/", {**purpose, "file": SimpleUploadedFile("b.pdf", altered)}
    ).content.decode()
    assert "文件验证通过" not in forged
    assert AccessRecord.objects.filter(operation="verify", identifier=lic.identifier).exists()
