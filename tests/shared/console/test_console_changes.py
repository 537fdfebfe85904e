"""Renew, amend and pledge from the licence detail: forms over `license_act`, refusals beside
their field, permissions as the detail's."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.licenses.models import License, LicenseEvent
from tests.console_support import console_client
from tests.shared.access.conftest import issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def lic(issuer_user, license_type):
    return issue(issuer_user, license_type)


def url(lic, action):
    return f"/console/licences/{lic.identifier}/change/{action}/"


def test_the_detail_links_to_renew_amend_and_pledge(issuer_console, lic):
    page = issuer_console.get(f"/console/licences/{lic.identifier}/").content.decode()
    for action in ("renew", "amend", "pledge"):
        assert url(lic, action) in page


def test_renew_writes_a_new_version_with_the_new_end_date(issuer_console, lic):
    new_end = lic.valid_to + timedelta(days=200)
    response = issuer_console.post(
        url(lic, "renew"), {"valid_to": new_end.isoformat(), "version": lic.version}
    )
    assert response.status_code == 302
    renewed = License.objects.get(pk=lic.pk)
    assert (renewed.version, renewed.valid_to) == (2, new_end)
    assert response["Location"] == f"/console/licences/{renewed.identifier}/"


def test_renew_refuses_an_earlier_end_date_in_chinese(issuer_console, lic):
    response = issuer_console.post(
        url(lic, "renew"), {"valid_to": (lic.valid_to - timedelta(days=1)).isoformat()}
    )
    assert response.status_code == 400
    assert "必须晚于原截止日期" in response.content.decode()
    assert License.objects.get(pk=lic.pk).version == 1


def test_renew_without_an_end_date_says_so_beside_the_field(issuer_console, lic):
    response = issuer_console.post(url(lic, "renew"), {"valid_to": ""})
    assert response.status_code == 400
    assert 'id="f-valid_to-error"' in response.content.decode()


def test_amend_changes_the_surface_and_holder_name(issuer_console, lic):
    form = {
        "holder_name": "郑州豫中食品股份有限公司",
        "valid_to": lic.valid_to.isoformat(),
        "surface__经营者名称": "郑州豫中食品股份有限公司",
        "surface__经营项目": "预包装食品销售；散装食品销售",
        "surface__从业人数": "20",
        "reason": "企业名称变更",
    }
    assert issuer_console.post(url(lic, "amend"), form).status_code == 302
    amended = License.objects.get(pk=lic.pk)
    assert amended.holder_name == "郑州豫中食品股份有限公司"
    assert amended.surface["从业人数"] == 20 and amended.version == 2
    assert amended.valid_to == lic.valid_to


def test_amend_shows_a_surface_refusal_beside_its_field(issuer_console, lic):
    form = {"holder_name": lic.holder_name, "valid_to": lic.valid_to.isoformat()}
    form["surface__经营项目"] = "x"  # 经营者名称 (required) left empty
    response = issuer_console.post(url(lic, "amend"), form)
    assert response.status_code == 400
    assert "经营者名称" in response.content.decode()
    assert License.objects.get(pk=lic.pk).version == 1


def test_pledge_then_release(issuer_console, lic):
    until = (timezone.localdate() + timedelta(days=90)).isoformat()
    response = issuer_console.post(
        url(lic, "pledge"), {"pledgee": "中原银行郑州分行", "until": until}
    )
    assert response.status_code == 302
    pledged = License.objects.get(pk=lic.pk)
    assert pledged.pledged and pledged.pledgee == "中原银行郑州分行"
    page = issuer_console.get(f"/console/licences/{lic.identifier}/").content.decode()
    assert url(lic, "pledge") not in page and "/act/release/" in page
    assert LicenseEvent.objects.filter(license=lic, action="pledge").count() == 1


def test_pledge_needs_a_pledgee_and_a_date_not_past(issuer_console, lic):
    response = issuer_console.post(
        url(lic, "pledge"), {"pledgee": "中原银行", "until": "2000-01-01"}
    )
    assert response.status_code == 400
    assert "质押期限必须是今天或以后的日期" in response.content.decode()
    response = issuer_console.post(url(lic, "pledge"), {"pledgee": " ", "until": "2099-01-01"})
    assert response.status_code == 400 and "质权人" in response.content.decode()
    assert not License.objects.get(pk=lic.pk).pledged


def test_a_stale_form_is_refused_as_a_conflict(issuer_console, lic):
    response = issuer_console.post(url(lic, "renew"), {"valid_to": "2099-01-01", "version": "7"})
    assert response.status_code == 409 and "请刷新后重试" in response.content.decode()


def test_others_cannot_change_it(consumer_console, other_issuer_user, lic):
    assert consumer_console.get(url(lic, "renew")).status_code == 403
    other = console_client(other_issuer_user)
    assert other.post(url(lic, "renew"), {"valid_to": "2099-01-01"}).status_code == 404
    assert other.get(url(lic, "unknown")).status_code == 404
    assert License.objects.get(pk=lic.pk).version == 1
