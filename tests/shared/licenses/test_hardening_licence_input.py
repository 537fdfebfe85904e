"""Issue #10 item 9, licences: dates out of any sane range, unknown holder code types, control,
bidi and invisible characters in what is signed and printed, and text the page cannot print are
refused with 400, a stable code and a Chinese message, and change nothing."""

import pytest

from shared.licenses.batches import batch_create, batch_process
from shared.licenses.models import BatchItem, License, LicenseEvent, LicenseVersion
from tests.support import make_type

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        License.objects.count(),
        LicenseVersion.objects.count(),
        LicenseEvent.objects.count(),
        list(
            License.objects.order_by("pk").values_list(
                "status", "version", "holder_name", "valid_to", "pledgee", "surface"
            )
        ),
    )


def issue(client, payload):
    response = client.post("/api/v1/licenses/", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def refused(response, code, status=400):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert body["code"] == code, body
    assert body["message"] and not body["message"].isascii(), body  # Chinese for people
    return body


def act(client, identifier, action, **body):
    return client.post(f"/api/v1/licenses/{identifier}/{action}/", body, format="json")


# --- dates -----------------------------------------------------------------------------------


@pytest.fixture
def long_term_type(issuer_user):
    """A type without a maximum validity, so only the date range can refuse a far date."""
    return make_type(issuer_user, seq=7, requires_review=False, validity_max_days=None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"valid_from": "0001-01-01", "valid_to": None}, "valid_from"),
        ({"valid_from": "1949-09-30", "valid_to": None}, "valid_from"),
        ({"valid_from": "2200-01-01", "valid_to": None}, "valid_from"),
        ({"valid_to": "9999-12-31"}, "valid_to"),
        ({"valid_to": "2200-01-01"}, "valid_to"),
    ],
)
def test_dates_outside_1949_to_2199_are_refused(
    issuer, issue_payload, long_term_type, overrides, field
):
    # given
    before = snapshot()
    payload = issue_payload(type_code=long_term_type.type_code, **overrides)
    # when
    response = issuer.post("/api/v1/licenses/", payload, format="json")
    # then
    body = refused(response, "date.out_of_range")
    assert body["detail"]["field"] == field
    assert body["detail"]["earliest"] == "1949-10-01"
    assert body["detail"]["latest"] == "2199-12-31"
    assert "1949-10-01 至 2199-12-31" in body["message"]
    assert snapshot() == before


def test_the_bounds_themselves_are_accepted(issuer, issue_payload, long_term_type):
    # legacy digitisation reaches back to 1949-10-01; a long validity may reach 2199-12-31
    body = issue(
        issuer,
        issue_payload(
            type_code=long_term_type.type_code,
            mode="legacy",
            valid_from="1949-10-01",
            valid_to="2199-12-31",
        ),
    )
    assert (body["valid_from"], body["valid_to"]) == ("1949-10-01", "2199-12-31")


def test_case_completion_of_year_one_is_refused(issuer, issue_payload):
    before = snapshot()
    response = issuer.post(
        "/api/v1/licenses/",
        issue_payload(case_completed_at="0001-01-01T00:00:00Z"),
        format="json",
    )
    refused(response, "license.case_completed_too_early")
    assert snapshot() == before


def test_renew_and_pledge_dates_are_bounded(issuer, issue_payload, long_term_type):
    ident = issue(issuer, issue_payload(type_code=long_term_type.type_code))["identifier"]
    before = snapshot()
    body = refused(act(issuer, ident, "renew", valid_to="2200-01-01"), "date.out_of_range")
    assert body["detail"]["field"] == "valid_to"
    body = refused(
        act(issuer, ident, "pledge", pledgee="中原银行", until="9999-12-31"), "date.out_of_range"
    )
    assert body["detail"]["field"] == "until"
    assert snapshot() == before


def test_a_batch_row_with_year_one_fails_alone(issuer_user, issue_payload):
    # given: two rows, the second dated 0001-01-01
    good = issue_payload(number="PL-1")
    bad = issue_payload(number="PL-2", valid_from="0001-01-01", valid_to="0001-12-31")
    batch = batch_create(actor=issuer_user, mode="bulk", items=[good, bad])
    # when
    batch_process(batch_id=str(batch.pk))
    # then
    items = list(batch.items.order_by("index").values_list("state", "error_code"))
    assert items == [(BatchItem.State.ISSUED, ""), (BatchItem.State.FAILED, "date.out_of_range")]
    assert list(License.objects.values_list("number", flat=True)) == ["PL-1"]


# --- holder code types -----------------------------------------------------------------------


@pytest.mark.parametrize("code_type", ["999", "000", "112"])
def test_unknown_holder_code_types_are_refused(issuer, issue_payload, code_type):
    before = snapshot()
    holder = {"name": "郑州豫中食品有限公司", "code": "E12345678", "code_type": code_type}
    body = refused(
        issuer.post("/api/v1/licenses/", issue_payload(holder=holder), format="json"),
        "holder.code_type",
    )
    assert body["detail"]["supported"] == ["001", "099", "111", "414", "511", "516"]
    assert snapshot() == before


@pytest.mark.parametrize("code_type", ["999", "11"])
def test_a_share_query_naming_an_unknown_code_type_is_refused_and_recorded(
    consumer, consumer_agency, library_admin, license_type, code_type
):
    # given: the consumer holds a grant, so only the code type can refuse the query
    from shared.access.grants import grant_create
    from shared.access.models import AccessRecord

    grant_create(
        actor=library_admin,
        agency_code=consumer_agency.code,
        type_code=license_type.type_code,
        matter_code="M0001",
    )
    body = {
        "holder": {"code": "E12345678", "code_type": code_type},
        "matter_code": "M0001",
        "use_cause": "办理食品经营许可变更",
    }
    # when
    response = consumer.post("/api/v1/share/query/", body, format="json")
    # then
    refused(response, "holder.code_type")
    record = AccessRecord.objects.order_by("-pk").first()
    assert (record.outcome, record.reason_code) == ("refused", "holder.code_type")


# --- control, bidi and invisible characters --------------------------------------------------


def _holder(issue_payload, name):
    return {**issue_payload()["holder"], "name": name}


@pytest.mark.parametrize(
    ("overrides", "field", "codepoint"),
    [
        ({"holder": "郑州\x07豫中食品有限公司"}, "holder.name", "U+0007"),
        ({"holder": "郑州豫中食品\x1b[2J有限公司"}, "holder.name", "U+001B"),
        ({"holder": "郑州豫中\u202e司公限有品食"}, "holder.name", "U+202E"),
        ({"holder": "郑州豫中食品有限公司\u200b"}, "holder.name", "U+200B"),
        ({"number": "JY141\u2066010\u2069"}, "number", "U+2066"),
        ({"number": "JY14101\x0b0001"}, "number", "U+000B"),
        ({"surface": {"经营者名称": "郑州豫中\u200f食品"}}, "surface.经营者名称", "U+200F"),
        (
            {"surface": {"经营者名称": "郑州豫中食品", "经营项目": "预包装\x85食品"}},
            "surface.经营项目",
            "U+0085",
        ),
        ({"matter_code": "M0001\u200d"}, "matter_code", "U+200D"),
    ],
)
def test_control_bidi_and_invisible_characters_are_refused_on_issue(
    issuer, issue_payload, overrides, field, codepoint
):
    # given
    before = snapshot()
    if "holder" in overrides:
        overrides = {"holder": _holder(issue_payload, overrides["holder"])}
    # when
    response = issuer.post("/api/v1/licenses/", issue_payload(**overrides), format="json")
    # then
    body = refused(response, "text.invalid_character")
    assert body["detail"]["field"] == field
    assert body["detail"]["characters"][0]["codepoint"] == codepoint
    assert codepoint in body["message"]
    assert snapshot() == before


@pytest.mark.parametrize("name", ["\u200b\u200c", "\ufeff", "\u200b \u3000\u2060"])
def test_a_holder_name_of_only_invisible_characters_is_missing(issuer, issue_payload, name):
    before = snapshot()
    response = issuer.post(
        "/api/v1/licenses/", issue_payload(holder=_holder(issue_payload, name)), format="json"
    )
    refused(response, "holder.name_required")
    assert snapshot() == before


def test_lifecycle_text_is_checked_too(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    before = snapshot()
    cases = [
        ("amend", {"holder_name": "郑州\u202e豫中"}, "holder.name"),
        ("amend", {"surface": {"经营者名称": "郑州\x00豫中"}}, None),  # DRF refuses NUL first
        ("amend", {"surface": {"经营者名称": "郑州\u2060豫中"}}, "surface.经营者名称"),
        ("suspend", {"reason": "涉嫌\u202e违法"}, "reason"),
        ("pledge", {"pledgee": "中原\x07银行", "until": "2030-01-01"}, "pledgee"),
    ]
    for action, body, field in cases:
        response = act(issuer, ident, action, **body)
        assert response.status_code == 400, (action, response.json())
        if field is not None:
            assert response.json()["code"] == "text.invalid_character", (action, body)
            assert response.json()["detail"]["field"] == field
    # a reason with only a zero-width space is no reason
    refused(act(issuer, ident, "suspend", reason="\u200b"), "action.reason_required")
    assert snapshot() == before
    # a multi-line reason is fine
    ok = act(issuer, ident, "suspend", reason="涉嫌违法经营\n暂扣三十日")
    assert ok.status_code == 200, ok.json()


# --- what the page cannot print --------------------------------------------------------------


def test_a_character_missing_from_the_font_is_refused_and_named(issuer, issue_payload):
    # given: 䶮 (CJK extension A) is in names, but not in the licence font (WenQuanYi)
    before = snapshot()
    payload = issue_payload(
        holder=_holder(issue_payload, "郑州刘䶮食品有限公司"),
        surface={"经营者名称": "郑州刘䶮食品有限公司", "经营项目": "预包装食品销售😀"},
    )
    # when
    response = issuer.post("/api/v1/licenses/", payload, format="json")
    # then
    body = refused(response, "file.missing_glyphs")
    assert body["detail"]["characters"] == [
        {"character": "䶮", "codepoint": "U+4DAE", "fields": ["持证主体", "经营者名称"]},
        {"character": "😀", "codepoint": "U+1F600", "fields": ["经营项目"]},
    ]
    assert "“䶮”（U+4DAE，持证主体、经营者名称）" in body["message"]
    assert snapshot() == before


def test_an_amendment_the_page_cannot_print_is_refused(issuer, issue_payload):
    ident = issue(issuer, issue_payload())["identifier"]
    before = snapshot()
    body = refused(
        act(issuer, ident, "amend", holder_name="郑州㛃食品有限公司"), "file.missing_glyphs"
    )
    assert body["detail"]["characters"][0]["codepoint"] == "U+36C3"
    assert snapshot() == before


def test_text_too_long_for_the_page_is_refused(issuer, issuer_user, issue_payload):
    # given: a type whose schema sets no maximum length
    wide = make_type(
        issuer_user,
        seq=8,
        requires_review=False,
        surface_schema={"type": "object", "properties": {"经营范围": {"type": "string"}}},
    )
    before = snapshot()
    payload = issue_payload(type_code=wide.type_code, surface={"经营范围": "食品销售" * 1500})
    # when
    response = issuer.post("/api/v1/licenses/", payload, format="json")
    # then
    body = refused(response, "file.text_overflow")
    assert body["detail"]["field"] == "经营范围"
    assert snapshot() == before


def test_long_text_that_fits_when_wrapped_is_issued(issuer, issue_payload):
    scope = "预包装食品销售（含冷藏冷冻食品）、散装食品销售（含冷藏冷冻食品）" * 5
    body = issue(issuer, issue_payload(surface={"经营者名称": "郑州豫中食品", "经营项目": scope}))
    assert body["surface"]["经营项目"] == scope


@pytest.mark.parametrize(
    "template",
    [
        {"layout": {"fields_x": "左边"}},
        {"layout": {"font_size": 0}},
        {"layout": {"positions": {"持证主体": [1]}}},
        {"fields": ["持证主体"]},
    ],
)
def test_a_template_the_page_cannot_be_laid_out_with_is_refused(
    issuer, issuer_user, issue_payload, template
):
    # given: a type whose template (catalogue data) is not of the documented shape
    broken = make_type(issuer_user, seq=9, requires_review=False, template=template)
    before = snapshot()
    # when
    response = issuer.post(
        "/api/v1/licenses/", issue_payload(type_code=broken.type_code), format="json"
    )
    # then: a 400 naming the template, not a 500 now or a file that fails later
    refused(response, "file.template_invalid")
    assert snapshot() == before


def test_without_a_usable_font_issuing_still_works(issuer, issue_payload, settings):
    # given: a misconfigured font (the file render will fail and say so; issuing must not 500)
    settings.FILES_CJK_FONT = "/nonexistent/font.ttf"
    # when / then
    body = issue(issuer, issue_payload(holder=_holder(issue_payload, "郑州刘䶮食品有限公司")))
    assert body["holder"]["name"] == "郑州刘䶮食品有限公司"
