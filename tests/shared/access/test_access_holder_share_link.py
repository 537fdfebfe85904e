"""Showing a licence at a counter (出示证照, issue #14 item 2): the holder's share link is signed
(the stored token alone, or a token with a forged signature, opens nothing and names no
licence), expires, can be revoked by the holder, shows the licence read-only, and every opening
— and every refused opening of a real link — is an access record on the licence."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from shared.access.models import AccessRecord, AnonymousCount, HolderShare
from shared.access.portal import holder_create, holder_share_link_token
from shared.audit.models import AuditEntry
from tests.shared.access.conftest import issue
from tests.shared.access.test_access_holder_portal import KEY, code_now, sign_in
from tests.support import make_uscc

pytestmark = pytest.mark.django_db


@pytest.fixture
def holder(holder_code):
    user, _ = holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=holder_code,
        holder_code_type="001",
        totp_key=KEY,
    )
    return user


@pytest.fixture
def shared_link(holder, licence):
    """A link the signed-in holder made for a bank, and the holder's client."""
    client = Client()
    sign_in(client)
    response = client.post(
        f"/holder/licences/{licence.identifier}/share/",
        {"use_cause": "申请银行贷款", "recipient": "中原银行", "days": "3"},
    )
    assert response.status_code == 302
    page = client.get("/holder/").content.decode()
    url = re.search(r'href="http://testserver(/holder/s/[^"]+)"', page).group(1)
    return client, url, HolderShare.objects.get()


def anonymous_refusals() -> int:
    counted = AnonymousCount.objects.filter(kind="holder_link:share.not_found")
    return sum(c.count for c in counted)


def copies(**filters):
    return list(AccessRecord.objects.filter(operation="copy", **filters).order_by("id"))


def test_the_counter_sees_the_licence_read_only_and_the_opening_is_recorded(shared_link, licence):
    _, url, share = shared_link
    # when: the counter opens the link, signed out
    response = Client().get(url)
    # then: the licence with purpose and expiry, no form, no file, not cached, no referrer
    assert response.status_code == 200
    text = response.content.decode()
    assert licence.number in text and "仅用于：申请银行贷款" in text
    assert "<form" not in text and "file.pdf" not in text and "archive.zip" not in text
    assert response["Cache-Control"] == "private, no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    opened = copies(detail__by="link")
    assert len(opened) == 1
    assert (opened[0].identifier, opened[0].outcome) == (licence.identifier, "allowed")
    assert opened[0].detail["share"] == str(share.pk)
    # and the link only reads: nothing can be posted to it
    assert Client().post(url).status_code == 405
    assert len(copies(detail__by="link")) == 1


def test_the_link_is_signed_not_the_stored_token(shared_link):
    _, url, share = shared_link
    token = url.removeprefix("/holder/s/").rstrip("/")
    # given: the link carries the stored random token and a signature over it
    assert token == holder_share_link_token(share)
    raw, signature = token.split(":")
    assert raw == share.token and len(signature) >= 40
    before = copies()
    counted_before = anonymous_refusals()
    # when: someone tries the stored token without its signature, or with a forged one
    bare = Client().get(f"/holder/s/{raw}/")
    forged = Client().get(f"/holder/s/{raw}:{'A' * len(signature)}/")
    # then: nothing is shown, no record names the licence, the tries are counted anonymously
    assert (bare.status_code, forged.status_code) == (404, 404)
    assert copies() == before
    assert anonymous_refusals() == counted_before + 2


def test_an_expired_link_opens_nothing_and_the_refusal_is_recorded(shared_link, licence):
    _, url, share = shared_link
    # given: the link's time is up
    HolderShare.objects.filter(pk=share.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    # when
    response = Client().get(url)
    # then
    assert response.status_code == 404
    assert "加注件不存在或已过期" in response.content.decode()
    assert licence.number not in response.content.decode()
    refused = copies(detail__by="link")
    assert [(r.outcome, r.reason_code) for r in refused] == [("refused", "share.not_found")]


def test_the_holder_revokes_the_link_and_the_counter_can_no_longer_open_it(shared_link, licence):
    client, url, share = shared_link
    assert Client().get(url).status_code == 200
    # given: the holder sees the link among theirs, with a revoke button
    page = client.get("/holder/shares/").content.decode()
    assert "申请银行贷款" in page and f"/holder/shares/{share.pk}/revoke/" in page
    assert f'href="http://testserver{url}"' in page  # the live link, to show again
    # when
    response = client.post(f"/holder/shares/{share.pk}/revoke/")
    # then
    assert response.status_code == 302
    share.refresh_from_db()
    assert share.revoked_at is not None
    entry = AuditEntry.objects.get(action="holder_share.revoke")
    assert (entry.target_id, entry.username) == (str(share.pk), "holder_yuzhong")
    after = client.get("/holder/shares/").content.decode()
    assert "已撤销" in after and url not in after
    again = Client().get(url)
    assert again.status_code == 404
    outcomes = [r.outcome for r in copies(detail__by="link")]
    assert outcomes == ["allowed", "refused"]
    # and revoking twice changes nothing
    client.post(f"/holder/shares/{share.pk}/revoke/")
    assert AuditEntry.objects.filter(action="holder_share.revoke").count() == 1


def test_another_holder_cannot_revoke_the_link(shared_link):
    _, url, share = shared_link
    holder_create(
        username="holder_other",
        password="Holder-12345",
        display_name="另一家公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA5X5Y5L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    other = Client()
    sign_in_as_other = other.post(
        "/holder/login/",
        {
            "username": "holder_other",
            "password": "Holder-12345",
            "otp_token": code_now(),
        },
    )
    assert sign_in_as_other.status_code == 302
    # when
    response = other.post(f"/holder/shares/{share.pk}/revoke/")
    # then: 404, the link still opens, no audit row
    assert response.status_code == 404
    share.refresh_from_db()
    assert share.revoked_at is None
    assert not AuditEntry.objects.filter(action="holder_share.revoke").exists()
    assert Client().get(url).status_code == 200
    assert "申请银行贷款" not in other.get("/holder/shares/").content.decode()


def test_signed_out_nobody_revokes_a_link(shared_link):
    _, url, share = shared_link
    response = Client().post(f"/holder/shares/{share.pk}/revoke/")
    assert response.status_code == 302 and response.url.startswith("/holder/login/")
    share.refresh_from_db()
    assert share.revoked_at is None


def test_a_link_of_another_holders_licence_cannot_be_made(holder, issuer_user, license_type):
    foreign = issue(issuer_user, license_type, holder_body="MA5X5Y5L", number="X1")
    client = Client()
    sign_in(client)
    client.post(f"/holder/licences/{foreign.identifier}/share/", {"use_cause": "看看"})
    assert not HolderShare.objects.exists()
