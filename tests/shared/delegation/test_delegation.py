"""A legal person's staff act for it (issue #14 item 1): the legal person grants a named staff
account (a natural person's holder account) the right to see, download and share its licences,
with an expiry, and may revoke it; the staff member switches to "代表 <法人名称>"; every act is
recorded with both identities. Refused in Chinese with nothing changed: a grant by a non-legal
person, to an account that is not a natural person's holder account, and any use of an expired
or revoked delegation."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from shared.access.models import AccessRecord, HolderShare
from shared.access.portal import holder_create
from shared.audit.models import AuditEntry
from shared.core.errors import ForbiddenError, PermanentError
from shared.delegation.models import Delegation
from shared.delegation.services import delegation_grant, delegation_revoke, delegation_use
from tests.shared.delegation.conftest import KEY, PASSWORD, portal_client
from tests.support import make_citizen_id, make_uscc

pytestmark = pytest.mark.django_db


def grant_in_portal(client, delegate="zhang_wei", days="30"):
    return client.post("/holder/delegations/", {"delegate": delegate, "days": days})


def acting_client(delegation):
    client = portal_client("zhang_wei")
    assert client.post("/holder/act/", {"delegation": str(delegation.pk)}).status_code == 302
    return client


def test_the_legal_person_grants_in_the_portal_and_it_is_audited(company, staff):
    corp = portal_client("yuzhong_corp")
    # when
    response = grant_in_portal(corp)
    # then
    assert response.status_code == 302
    row = Delegation.objects.get()
    assert (row.principal, row.delegate, row.revoked_at) == (company, staff, None)
    assert timedelta(days=29, hours=23) < row.expires_at - timezone.now() <= timedelta(days=30)
    entry = AuditEntry.objects.get(action="delegation.grant")
    assert entry.username == "yuzhong_corp" and entry.target_id == str(row.pk)
    assert entry.after["delegate"] == "zhang_wei"
    page = corp.get("/holder/delegations/").content.decode()
    assert "已授权 zhang_wei" in page and "张伟" in page and "有效" in page


def test_granting_again_renews_the_one_delegation(company, staff):
    first = delegation_grant(principal=company, delegate_username="zhang_wei", days=5)
    again = delegation_grant(principal=company, delegate_username="zhang_wei", days=60)
    assert again.pk == first.pk
    assert Delegation.objects.count() == 1
    assert again.expires_at - timezone.now() > timedelta(days=59)
    assert AuditEntry.objects.filter(action="delegation.renew").count() == 1


def test_staff_switch_to_the_legal_person_and_see_its_licences(company, staff, company_licence):
    delegation = delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
    client = portal_client("zhang_wei")
    # given: on their own the staff member holds no licence, and may switch
    home = client.get("/holder/").content.decode()
    assert company_licence.identifier not in home
    assert "代表 郑州豫中食品有限公司" in home
    # when
    client.post("/holder/act/", {"delegation": str(delegation.pk)})
    # then
    home = client.get("/holder/").content.decode()
    assert "代表 <strong>郑州豫中食品有限公司</strong> 办理" in home
    assert company_licence.identifier in home
    assert 'data-testid="acting"' in client.get("/holder/shares/").content.decode()
    # review requests stay the person's own: no banner there
    assert 'data-testid="acting"' not in client.get("/holder/reviews/").content.decode()
    # and back to themselves
    client.post("/holder/act/", {"delegation": ""})
    assert company_licence.identifier not in client.get("/holder/").content.decode()


def test_every_act_under_the_delegation_names_both_identities(company, staff, company_licence):
    delegation = delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
    client = acting_client(delegation)
    both = {
        "by": "delegate",
        "on_behalf_of": "yuzhong_corp",
        "on_behalf_of_name": "郑州豫中食品有限公司",
        "delegation": str(delegation.pk),
    }
    # when: download, share, export
    pdf = client.get(f"/holder/licences/{company_licence.identifier}/file.pdf")
    shared = client.post(
        f"/holder/licences/{company_licence.identifier}/share/",
        {"use_cause": "投标资格审查", "days": "2"},
    )
    export = client.get("/holder/accesses.csv")
    # then
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert shared.status_code == 302 and export.status_code == 200
    records = list(AccessRecord.objects.order_by("id"))
    assert [r.operation for r in records] == ["download", "copy", "log_read"]
    for record in records:
        assert record.username == "zhang_wei"
        assert {k: record.detail[k] for k in both} == both
    assert records[0].identifier == company_licence.identifier
    assert HolderShare.objects.get().holder == company  # the legal person's link
    # the legal person sees who acted for it
    log = portal_client("yuzhong_corp").get("/holder/accesses/").content.decode()
    assert "授权经办人（代表 郑州豫中食品有限公司）" in log and "zhang_wei" in log


def test_without_a_delegation_staff_get_nothing_of_the_legal_person(
    company, staff, company_licence
):
    client = portal_client("zhang_wei")
    response = client.get(f"/holder/licences/{company_licence.identifier}/file.pdf")
    assert response.status_code == 404
    assert not AccessRecord.objects.exists()


@pytest.mark.parametrize("how", ["expired", "revoked"])
def test_an_expired_or_revoked_delegation_is_refused_and_nothing_is_done(
    company, staff, company_licence, how
):
    delegation = delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
    client = acting_client(delegation)
    # given: the delegation ends while the staff member is acting under it
    if how == "expired":
        Delegation.objects.filter(pk=delegation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    else:
        corp = portal_client("yuzhong_corp")
        assert corp.post(f"/holder/delegations/{delegation.pk}/revoke/").status_code == 302
        assert AuditEntry.objects.filter(action="delegation.revoke").count() == 1
    # when
    download = client.get(f"/holder/licences/{company_licence.identifier}/file.pdf")
    # then: refused in Chinese, no file, no record, no share
    assert download.status_code == 403
    assert "该授权已过期、已被撤销或不存在" in download.content.decode()
    assert not AccessRecord.objects.exists()
    # and switching back to it is refused too; the session is the staff member's own again
    again = client.post("/holder/act/", {"delegation": str(delegation.pk)})
    assert again.status_code == 403
    client.post(
        f"/holder/licences/{company_licence.identifier}/share/", {"use_cause": "投标资格审查"}
    )
    assert not HolderShare.objects.exists()
    assert company_licence.identifier not in client.get("/holder/").content.decode()
    assert "代表 郑州豫中食品有限公司" not in client.get("/holder/").content.decode()


def test_a_natural_person_cannot_grant(company, staff):
    # given: the natural person tries to delegate to the company's account
    client = portal_client("zhang_wei")
    before = AuditEntry.objects.count()
    # when
    response = grant_in_portal(client, delegate="yuzhong_corp")
    # then
    assert response.status_code == 403
    assert "只有法人持证人（统一社会信用代码）可以授权经办人" in response.content.decode()
    assert not Delegation.objects.exists()
    assert AuditEntry.objects.count() == before
    with pytest.raises(ForbiddenError) as refused:
        delegation_grant(principal=staff, delegate_username="zhang_wei", days=3)
    assert refused.value.code == "delegation.not_legal_person"


@pytest.mark.parametrize(
    ("delegate", "days", "code"),
    [
        ("consumer_1", "30", "delegation.not_holder"),  # an agency's staff account
        ("nobody", "30", "delegation.not_holder"),
        ("yuzhong_corp", "30", "delegation.not_holder"),  # itself, a legal person
        ("zhang_wei", "0", "delegation.days"),
        ("zhang_wei", "367", "delegation.days"),
        ("zhang_wei", "三十", "delegation.days"),
    ],
)
def test_a_grant_to_anything_but_a_natural_persons_holder_account_is_refused(
    company, staff, consumer_user, delegate, days, code
):
    client = portal_client("yuzhong_corp")
    before = AuditEntry.objects.count()
    response = grant_in_portal(client, delegate=delegate, days=days)
    assert response.status_code == 400
    message = (
        "被授权人必须是已开通的自然人持证人账号"
        if code == "delegation.not_holder"
        else "1 至 366 天"
    )
    assert message in response.content.decode()
    assert not Delegation.objects.exists()
    assert AuditEntry.objects.count() == before
    with pytest.raises(PermanentError) as refused:
        delegation_grant(
            principal=company, delegate_username=delegate, days=int(days) if days.isdigit() else 0
        )
    assert refused.value.code == code


def test_only_the_legal_person_revokes_its_delegation(company, staff):
    delegation = delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
    # another legal person's account cannot revoke it
    other, _ = holder_create(
        username="other_corp",
        password=PASSWORD,
        display_name="另一家公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA5X5Y5L"),
        holder_code_type="001",
    )
    with pytest.raises(PermanentError) as refused:
        delegation_revoke(principal=other, delegation_id=str(delegation.pk))
    assert refused.value.code == "delegation.not_found"
    staff_client = portal_client("zhang_wei")
    assert staff_client.post(f"/holder/delegations/{delegation.pk}/revoke/").status_code == 404
    delegation.refresh_from_db()
    assert delegation.revoked_at is None
    assert delegation_use(delegate=staff, delegation_id=str(delegation.pk)).holder == company
    # revoking twice changes nothing
    delegation_revoke(principal=company, delegation_id=str(delegation.pk))
    delegation_revoke(principal=company, delegation_id=str(delegation.pk))
    assert AuditEntry.objects.filter(action="delegation.revoke").count() == 1
    with pytest.raises(ForbiddenError):
        delegation_use(delegate=staff, delegation_id=str(delegation.pk))


def test_someone_elses_delegation_cannot_be_used(company, staff, company_licence):
    delegation = delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
    holder_create(
        username="li_na",
        password=PASSWORD,
        display_name="李娜",
        holder_code=make_citizen_id(area="410102", birth="19920101", seq="456"),
        holder_code_type="111",
        totp_key=KEY,
    )
    client = portal_client("li_na")
    assert client.post("/holder/act/", {"delegation": str(delegation.pk)}).status_code == 403
    assert client.post("/holder/act/", {"delegation": "not-a-uuid"}).status_code == 403
    assert company_licence.identifier not in client.get("/holder/").content.decode()
    assert Client().post("/holder/act/", {"delegation": str(delegation.pk)}).status_code == 302
