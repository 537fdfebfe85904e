"""库管理 → 印章证书: every key the library holds with its certificate's days left, 轮换 behind a
confirmation with a required reason (one audit row naming the administrator and the reason),
files sealed before a rotation still verify, the agency administrator reads its agency's
seals only, the supervisor and staff get the 403 page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from shared.audit.models import AuditEntry
from shared.files import keystore
from shared.files.models import SigningKey
from shared.files.verification import file_verify
from tests.console_support import console_client
from tests.shared.files.files_support import issue, render_pending
from tests.support import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def files_root(settings, tmp_path):
    settings.FILES_ROOT = str(tmp_path / "files")
    settings.FILES_PUBLIC_BASE_URL = "http://testserver"
    settings.FILES_TSA_URL = ""
    keystore.reset_caches()
    yield
    keystore.reset_caches()


@pytest.fixture
def keys(pki, issuer_agency, other_issuer_agency):
    """The CA, the token key, the issuer's ECDSA and SM2 seals, the library's own seal, and
    another agency's seal kept in an HSM (a row as `pki hsm-seal` leaves it)."""
    own = keystore.seal_for(agency=None)
    seal = keystore.seal_for(agency=issuer_agency)
    sm2 = keystore.sm2_seal_for(agency=issuer_agency)
    token = keystore.token_key_active()
    hsm = SigningKey.objects.create(
        kind="seal",
        agency=other_issuer_agency,
        key_id="hsm-" + "0" * 28,
        subject="CN=交通运输局",
        serial_hex="abc123",
        public_key_pem="-",
        backend="pkcs11",
        pkcs11_label="seal-traffic",
        not_before=timezone.now(),
        not_after=timezone.now() + timedelta(days=400),
    )
    return {"own": own, "seal": seal, "sm2": sm2, "token": token, "hsm": hsm}


def rotate_url(key):
    return f"/console/admin/seals/{key.key_id}/rotate/"


def row_of(html, key):
    start = html.index(f'data-key="{key.key_id}"')
    return html[start : html.index("</tr>", start)]


def test_the_library_admin_sees_every_key_with_its_days_left_coloured(admin_console, keys):
    # given: one seal 10 days from its end, the library's own seal already expired
    now = timezone.now()
    SigningKey.objects.filter(pk=keys["seal"].pk).update(
        not_after=now + timedelta(days=10, hours=1)
    )
    SigningKey.objects.filter(pk=keys["own"].pk).update(not_after=now - timedelta(days=1))
    # when
    response = admin_console.get("/console/admin/seals/")
    html = response.content.decode()
    # then
    assert response.status_code == 200
    assert "印章证书" in html and html.count('data-testid="seal-row"') == SigningKey.objects.count()
    seal = row_of(html, keys["seal"])
    assert "seal-soon" in seal and "10 天" in seal and keys["seal"].serial_hex in seal
    assert "市场监督管理局" in seal and "ECDSA P-256" in seal and "加密文件" in seal
    assert "seal-expired" in row_of(html, keys["own"]) and "已过期" in row_of(html, keys["own"])
    assert "seal-ok" in row_of(html, keys["sm2"]) and "SM2" in row_of(html, keys["sm2"])
    ca = SigningKey.objects.get(kind="ca")
    assert "根证书" in row_of(html, ca) and rotate_url(ca) not in html  # not rotated here
    hsm = row_of(html, keys["hsm"])
    assert "硬件密码模块" in hsm and "seal-traffic" in hsm and rotate_url(keys["hsm"]) not in hsm
    for name in ("own", "seal", "sm2", "token"):
        assert rotate_url(keys[name]) in html
    assert '<a href="/console/admin/seals/" aria-current="page">印章证书</a>' in html


@pytest.mark.parametrize("name", ["seal", "sm2", "token"])
def test_rotation_takes_a_reason_and_is_audited_once(admin_console, library_admin, keys, name):
    old = keys[name]
    url = rotate_url(old)
    page = admin_console.get(url)
    assert page.status_code == 200 and "轮换原因" in page.content.decode()
    # no reason: refused, nothing changed
    before = (SigningKey.objects.count(), AuditEntry.objects.count())
    blank = admin_console.post(url, {"reason": "   "})
    assert blank.status_code == 400 and "请填写轮换原因" in blank.content.decode()
    assert (SigningKey.objects.count(), AuditEntry.objects.count()) == before
    # when
    done = admin_console.post(url, {"reason": "证书即将到期，按计划轮换"})
    # then
    assert done.status_code == 302 and done["Location"] == "/console/admin/seals/"
    old.refresh_from_db()
    new = SigningKey.objects.get(kind=old.kind, agency=old.agency, active=True)
    assert not old.active and old.retired_at is not None and new.key_id != old.key_id
    entry = AuditEntry.objects.get(action="key.rotate")  # one row: the keystore's own
    assert (entry.actor, entry.target_id, entry.before["key_id"]) == (
        library_admin,
        new.key_id,
        old.key_id,
    )
    assert entry.detail["reason"] == "证书即将到期，按计划轮换"
    assert AuditEntry.objects.count() == before[1] + 1
    # a second click on the old key: 409, nothing rotated again
    again = admin_console.post(url, {"reason": "再次轮换"})
    assert again.status_code == 409 and "已停用" in again.content.decode()
    assert SigningKey.objects.filter(kind=old.kind, agency=old.agency).count() == 2
    assert AuditEntry.objects.filter(action="key.rotate").count() == 1


def test_keys_not_rotated_here_are_refused(admin_console, keys):
    ca = SigningKey.objects.get(kind="ca")
    before = (SigningKey.objects.filter(active=True).count(), AuditEntry.objects.count())
    assert "不在控制台轮换" in admin_console.get(rotate_url(ca)).content.decode()
    for key, code in ((ca, "根证书与时间戳证书"), (keys["hsm"], "pki hsm-seal")):
        response = admin_console.post(rotate_url(key), {"reason": "试图轮换"})
        assert response.status_code == 409 and code in response.content.decode()
    assert (
        admin_console.post("/console/admin/seals/nope/rotate/", {"reason": "x"}).status_code == 404
    )
    assert (SigningKey.objects.filter(active=True).count(), AuditEntry.objects.count()) == before


def test_files_sealed_before_a_rotation_still_verify(
    admin_console, issuer, issue_payload, issuer_agency, pki
):
    # given: a licence's PDF (ECDSA seal) and OFD (SM2 seal)
    body = issue(issuer, issue_payload())
    render_pending()
    old_pdf = issuer.get(f"/api/v1/licenses/{body['identifier']}/file.pdf").content
    old_ofd = issuer.get(f"/api/v1/licenses/{body['identifier']}/file.ofd").content
    # when: both of the agency's seals are rotated from the screen
    for suite in (keystore.ECDSA, keystore.SM2):
        key = SigningKey.objects.get(kind=suite.kind, agency=issuer_agency, active=True)
        response = admin_console.post(rotate_url(key), {"reason": "密钥疑似泄露"})
        assert response.status_code == 302
    assert SigningKey.objects.filter(agency=issuer_agency, active=False).count() == 2
    # then: the files sealed with the retired keys still verify, and a new file uses the new seal
    for data in (old_pdf, old_ofd):
        result = file_verify(data)
        assert (result.check.code, result.info_code) == (0, 0), result.check
    second = issue(issuer, issue_payload(number="JY-NEW"))
    render_pending()
    new_pdf = issuer.get(f"/api/v1/licenses/{second['identifier']}/file.pdf").content
    new_seal = SigningKey.objects.get(kind="seal", agency=issuer_agency, active=True)
    assert file_verify(new_pdf).check.code == 0 and new_seal.serial_hex
    assert keystore.seal_for(agency=issuer_agency) == new_seal


def test_an_agency_admin_reads_its_agencys_seals_only(agency_admin, keys):
    client = console_client(agency_admin)
    html = client.get("/console/admin/seals/").content.decode()
    assert keys["seal"].key_id in html and keys["sm2"].key_id in html
    for name in ("own", "token", "hsm"):
        assert keys[name].key_id not in html
    assert "/rotate/" not in html and "仅供查看" in html
    before = (SigningKey.objects.filter(active=True).count(), AuditEntry.objects.count())
    assert client.get(rotate_url(keys["seal"])).status_code == 403
    assert client.post(rotate_url(keys["seal"]), {"reason": "单位自行轮换"}).status_code == 403
    assert (SigningKey.objects.filter(active=True).count(), AuditEntry.objects.count()) == before
    assert "印章证书" in client.get("/console/").content.decode()


@pytest.mark.parametrize("role", ["supervisor", "staff"])
def test_supervisor_and_staff_get_the_403_page(role, issuer_agency, keys):
    client = console_client(
        make_user(f"{role}_x", None if role == "supervisor" else issuer_agency, role=role)
    )
    for url in ("/console/admin/seals/", rotate_url(keys["seal"])):
        response = client.get(url)
        assert response.status_code == 403 and "无权" in response.content.decode()
    assert client.post(rotate_url(keys["seal"]), {"reason": "试"}).status_code == 403
    assert SigningKey.objects.get(pk=keys["seal"].pk).active
    assert "印章证书" not in client.get("/console/").content.decode()
