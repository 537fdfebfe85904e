"""The review inbox in a real headless Chromium (Playwright) against a live server: the issuer
signs in with a one-time code, opens a consumer's review request from the inbox, answers it as
corrected with the surface field changed, and follows the answer to the licence's new version."""

import pytest
from playwright.sync_api import expect

from shared.licenses.models import License
from shared.reviews.models import ReviewRequest
from shared.reviews.services import review_create
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.shared.access.conftest import MATTER, grant, issue

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_issuer_answers_a_review_as_corrected_and_sees_the_new_version(
    browser_page, issuer_user, consumer_user, consumer_agency, license_type
):
    # given: a consumer's request about the issuer's licence
    grant(consumer_agency, license_type)
    lic = issue(issuer_user, license_type)
    review = review_create(
        actor=consumer_user,
        identifier=lic.identifier,
        reason="照面上的经营项目与营业执照不一致，请核实更正",
        fields=["经营项目"],
        matter_code=MATTER,
        use_cause="办理食品经营许可变更，核验原证",
    )
    enrol(issuer_user)
    page = browser_page()
    sign_in(page, "issuer_1", code_now())
    # when: from the inbox to the request, answered as corrected
    nav(page, "复核申请").click()
    expect(page.get_by_test_id("open-count")).to_have_text("1")
    page.get_by_test_id("review-row").get_by_role("link", name=license_type.name).click()
    expect(page.get_by_test_id("review-fields")).to_contain_text("经营项目")
    page.get_by_label("已更正（同时变更证照）").check()
    page.get_by_label("答复说明").fill("已按营业执照更正经营项目")
    page.get_by_text("更正内容").click()
    page.get_by_label("经营项目", exact=True).fill("预包装食品销售、散装食品销售")
    page.get_by_role("button", name="提交答复").click()
    # then: the answer is shown, and its link opens the licence's new version
    expect(page.get_by_test_id("review-state")).to_have_text("已更正")
    new = License.objects.get(pk=lic.pk)
    assert new.version == 2 and new.surface["经营项目"] == "预包装食品销售、散装食品销售"
    assert ReviewRequest.objects.get(pk=review.pk).corrected_identifier == new.identifier
    page.get_by_test_id("corrected-identifier").click()
    expect(page.get_by_test_id("identifier")).to_have_text(new.identifier)
    expect(page.get_by_text("预包装食品销售、散装食品销售")).to_be_visible()
