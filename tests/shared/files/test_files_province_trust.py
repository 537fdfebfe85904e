"""Province-wide trust at a node (issue #13, item 1): the hub's signed list is checked before it
is kept, another library's QR token verifies through it (an unknown key id refreshes the list
once, rate-limited), another city's status comes from its signed status list or is "unknown",
and a revoked seal fails files sealed after its revocation, with the reason."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from shared.audit.models import AuditEntry
from shared.core.errors import PermanentError
from shared.crypto import statuslist
from shared.crypto.qr_tokens import sign_qr_token
from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_token
from shared.domain.identifiers import build_identifier
from shared.federation.keys import export_public, peer_register
from shared.federation.trust import LIST_TYPE, trust_list_accept, trust_list_sign
from shared.files import verification
from shared.files.models import ProvincialTrustList, SigningKey, StatusListCache
from shared.files.trust import trust_refresh_on_demand
from tests.shared.files.files_support import render_pending

pytestmark = pytest.mark.django_db
HUB = "410000"
FOREIGN_ISSUER = "124103000000000011"


class Library:
    """Another city's token key, as it would appear in the provincial list."""

    def __init__(self, code: str = "410300", base: str = "http://127.0.0.1:9") -> None:
        self.suite = get_suite("gm")
        self.key = self.suite.generate_key()
        public = self.suite.public_key_of(self.key)
        self.kid = self.suite.key_id(public)
        self.entry = {
            "library": code,
            "library_name": "洛阳市电子证照库",
            "tier": "node",
            "status_list_base": base,
            **{name: [] for name in ("ca", "seals", "tsa", "sm2_ca", "sm2_seals", "revocations")},
            "token_keys": [
                {
                    "kid": self.kid,
                    "alg": "SM2-SM3",
                    "public_key": self.suite.public_key_to_pem(public).decode(),
                    "endorsement": "",
                    "active": True,
                }
            ],
        }
        self.code = code

    def qr(self, identifier: str, *, index: int = 7) -> str:
        now = int(timezone.now().timestamp())
        return sign_qr_token(
            suite=self.suite,
            key=self.key,
            kid=self.kid,
            identifier=identifier,
            issuer=FOREIGN_ISSUER,
            issued_at=now,
            expires_at=now + 3600,
            status_index=index,
        )

    def status_list(self, purpose: str, revoked: list[int]) -> str:
        now = int(timezone.now().timestamp())
        return sign_token(
            suite=self.suite,
            key=self.key,
            kid=self.kid,
            claims={
                "issuer": FOREIGN_ISSUER,
                "library": self.code,
                "statusPurpose": purpose,
                "encodedList": statuslist.encode(revoked, size=statuslist.MIN_ENTRIES),
                "iat": now,
                "exp": now + 300,
            },
        )


def province(libraries: list[dict], version: int = 1) -> dict:
    """A list signed with this library's federation key, registered as the hub's peer key."""
    return trust_list_sign(
        {
            "type": LIST_TYPE,
            "issuer": HUB,
            "issuer_name": "河南省电子证照库",
            "version": version,
            "issued_at": timezone.now().replace(microsecond=0).isoformat(),
            "libraries": libraries,
        }
    )


@pytest.fixture
def hub_peer(db):
    own = export_public()
    return peer_register(code=HUB, kid=own["kid"], public_key_pem=own["public_key_pem"])


def foreign_identifier(license_type) -> str:
    return str(
        build_identifier(
            type_code=license_type.type_code,
            issuer_code=FOREIGN_ISSUER,
            serial="410300000001",
            version=1,
        )
    )


def test_list_kept_only_with_the_hubs_signature_and_never_rolled_back(hub_peer):
    # given a list signed by the hub's registered key
    body = province([Library().entry], version=2)
    # when / then it is kept
    assert trust_list_accept(body, hub_code=HUB) is True
    row = ProvincialTrustList.objects.get()
    assert row.version == 2
    # a tampered copy (a key swapped in) is refused and changes nothing
    tampered = json.loads(json.dumps(body))
    tampered["trust_list"]["libraries"][0]["token_keys"][0]["public_key"] = Library().entry[
        "token_keys"
    ][0]["public_key"]
    with pytest.raises(PermanentError) as refused:
        trust_list_accept(tampered, hub_code=HUB)
    assert refused.value.code == "trust_list.signature"
    # a list claimed for the hub but signed by a key the node does not know is refused
    with pytest.raises(PermanentError) as unknown:
        trust_list_accept(body, hub_code="419001")
    assert unknown.value.code == "trust_list.signature"
    # an older version (a replay) is not kept
    assert trust_list_accept(province([], version=1), hub_code=HUB) is False
    row.refresh_from_db()
    assert row.version == 2
    assert row.document == body["trust_list"]


def test_other_citys_token_verifies_and_its_status_is_never_guessed(hub_peer, license_type):
    # given 洛阳's key in the provincial list, its status lists unreachable
    luoyang = Library()
    trust_list_accept(province([luoyang.entry]), hub_code=HUB)
    token = luoyang.qr(foreign_identifier(license_type), index=7)
    # when a 洛阳 QR code is checked here, nothing cached
    check = verification.token_check(token)
    # then the signature is 洛阳's, but the status cannot be confirmed: not "valid"
    assert check.outcome == "status_unknown"
    assert check.library == "410300"
    assert check.as_dict()["info_result"] == {"code": 4, "message": "信息不全，无法验证"}
    assert check.label == "状态暂不可确认"
    # with 洛阳's signed status lists cached and fresh: valid, then revoked
    fresh = timezone.now() + timedelta(minutes=5)
    for purpose in ("revocation", "suspension"):
        StatusListCache.objects.create(
            library="410300",
            issuer_code=FOREIGN_ISSUER,
            purpose=purpose,
            token=luoyang.status_list(purpose, []),
            valid_until=fresh,
        )
    assert verification.token_check(token).outcome == "valid"
    StatusListCache.objects.filter(purpose="revocation").update(
        token=luoyang.status_list("revocation", [7])
    )
    assert verification.token_check(token).outcome == "ended"
    # a status list signed by another key is not believed
    StatusListCache.objects.filter(purpose="revocation").update(
        token=Library().status_list("revocation", [])
    )
    assert verification.token_check(token).outcome == "status_unknown"


def test_a_foreign_key_cannot_vouch_for_this_librarys_licence(hub_peer, issued):
    # given 洛阳's key in the list and a licence of this library
    luoyang = Library()
    trust_list_accept(province([luoyang.entry]), hub_code=HUB)
    version = verification.version_lookup(issued["identifier"])
    now = int(timezone.now().timestamp())
    token = sign_qr_token(
        suite=luoyang.suite,
        key=luoyang.key,
        kid=luoyang.kid,
        identifier=issued["identifier"],
        issuer=version.license.issuer.code,
        issued_at=now,
        expires_at=now + 600,
    )
    # when / then
    check = verification.token_check(token)
    assert (check.outcome, check.token_error) == ("forged", "token.not_owner")


class FakeHub:
    """The hub's trust-list endpoint over real HTTP (the node's real fetch calls it)."""

    def __init__(self) -> None:
        self.body: dict = {}
        self.requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner.requests += 1
                data = json.dumps(owner.body).encode()
                self.send_response(200 if self.path == "/api/v1/federation/trust-list/" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def fake_hub(hub_peer):
    hub = FakeHub()
    hub_peer.base_url = hub.url
    hub_peer.save()
    yield hub
    hub.server.shutdown()


def test_unknown_key_id_refreshes_the_list_once_then_waits(fake_hub, license_type, settings):
    # given a node holding an old list, and a hub that now also lists 洛阳's key
    settings.TRUST_LIST_REFRESH_MIN_SECONDS = 60
    trust_list_accept(province([], version=1), hub_code=HUB)
    luoyang, stranger = Library(), Library("410500")
    fake_hub.body = province([luoyang.entry], version=2)
    # when a 洛阳 token arrives: one fetch, and it verifies
    check = verification.token_check(luoyang.qr(foreign_identifier(license_type)))
    assert fake_hub.requests == 1
    assert check.outcome == "status_unknown" and check.library == "410300"
    assert ProvincialTrustList.objects.get().version == 2
    # a token of a key nobody lists: forged, and no second fetch within the window
    forged = verification.token_check(stranger.qr(foreign_identifier(license_type)))
    assert (forged.outcome, forged.token_error) == ("forged", "token.unknown_key")
    assert fake_hub.requests == 1


def test_tampered_list_from_the_hub_is_refused_and_the_old_one_kept(fake_hub, license_type):
    trust_list_accept(province([], version=1), hub_code=HUB)
    body = province([Library().entry], version=2)
    body["trust_list"]["version"] = 3
    fake_hub.body = body
    assert trust_refresh_on_demand() is False
    row = ProvincialTrustList.objects.get()
    assert fake_hub.requests == 1
    assert row.version == 1
    assert row.last_error.startswith("trust_list.signature")


def _verify_file(consumer, pdf: bytes) -> dict:
    upload = SimpleUploadedFile("f.pdf", pdf, content_type="application/pdf")
    return consumer.post(
        "/api/v1/share/verify-file/",
        {"matter_code": "M0001", "use_cause": "核验", "file": upload},
        format="multipart",
    ).json()


def test_revoked_seal_fails_files_sealed_after_it_with_the_reason(
    issuer, issued, consumer, issuer_agency, issue_payload
):
    # given a file sealed now, and its seal revoked since an hour ago (key compromise)
    pdf = issuer.get(f"/api/v1/licenses/{issued['identifier']}/file.pdf").content
    seal = SigningKey.objects.get(kind="seal", agency=issuer_agency, active=True)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    call_command(
        "pki", "revoke-seal", "--key-id", seal.key_id, "--reason", "私钥泄露", "--since", since
    )
    # when it is verified
    body = _verify_file(consumer, pdf)
    # then it fails, with the reason
    assert body["file_result"] == {"code": 1, "message": "文件签章校验失败"}
    assert body["reason"] == "seal_revoked"
    assert "私钥泄露" in body["seal_note"] and "已于" in body["seal_note"]
    seal.refresh_from_db()
    assert (seal.active, seal.revocation_reason) == (False, "私钥泄露")
    assert AuditEntry.objects.filter(action="key.revoke", target_id=seal.key_id).count() == 1
    # a new licence is sealed with a new seal and verifies
    new = issuer.post("/api/v1/licenses/", issue_payload(number="JY-NEW"), format="json").json()
    render_pending()
    new_pdf = issuer.get(f"/api/v1/licenses/{new['identifier']}/file.pdf").content
    assert _verify_file(consumer, new_pdf)["file_result"]["code"] == 0


def test_file_sealed_before_the_revocation_still_verifies_and_says_so(
    issuer, issued, consumer, issuer_agency
):
    pdf = issuer.get(f"/api/v1/licenses/{issued['identifier']}/file.pdf").content
    seal = SigningKey.objects.get(kind="seal", agency=issuer_agency, active=True)
    call_command("pki", "revoke-seal", "--agency", issuer_agency.code, "--reason", "机构撤并")
    body = _verify_file(consumer, pdf)
    assert body["file_result"]["code"] == 0, body
    assert "机构撤并" in body["seal_note"] and "仍然有效" in body["seal_note"]
    # revoking again with another reason is a conflict and changes nothing
    with pytest.raises(Exception, match="已吊销"):
        call_command("pki", "revoke-seal", "--key-id", seal.key_id, "--reason", "别的原因")
    seal.refresh_from_db()
    assert seal.revocation_reason == "机构撤并"


def test_verify_command_uses_the_provincial_list_and_revocations(
    hub_peer, license_type, issuer, issued, issuer_agency, capsys, tmp_path
):
    # given 洛阳's key in the provincial list
    luoyang = Library()
    trust_list_accept(province([luoyang.entry]), hub_code=HUB)
    # when a 洛阳 token is verified with the command (no trust-list file): its key is found
    call_command("verify", luoyang.qr(foreign_identifier(license_type)))
    out = capsys.readouterr().out
    assert "outcome: valid" in out and "revocation_list: unavailable" in out
    # and a file whose seal was revoked before it was sealed fails, with the reason
    pdf = tmp_path / "f.pdf"
    pdf.write_bytes(issuer.get(f"/api/v1/licenses/{issued['identifier']}/file.pdf").content)
    seal = SigningKey.objects.get(kind="seal", agency=issuer_agency, active=True)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    call_command(
        "pki", "revoke-seal", "--key-id", seal.key_id, "--reason", "私钥泄露", "--since", since
    )
    with pytest.raises(SystemExit):
        call_command("verify", str(pdf))
    out = capsys.readouterr().out
    assert "reason: seal_revoked" in out and "私钥泄露" in out


def test_real_material_round_trips_through_the_list(hub_peer, pki):
    from shared.files.trust import province as held
    from shared.files.trust import trust_material

    material = trust_material() | {"library": "410300"}
    trust_list_accept(province([material]), hub_code=HUB)
    lib = held().libraries["410300"]
    assert set(lib.token_keys) == {pki["token"].key_id}
    assert len(lib.ca_roots) == 1 and len(lib.sm2_roots) == 1
