"""Issue #14: a revoked seal certificate is said so in this library's public trust list (the
one verifiers outside the federation read), with when and why; the other seals are not touched.
(Files sealed after the revocation failing with the reason, and earlier ones still verifying,
are proven in test_files_province_trust.py and tests/federation/test_federation_trust.py.)"""

import pytest
from django.core.management import call_command

from shared.files.models import SigningKey
from shared.files.trust import certificate_sha256

pytestmark = pytest.mark.django_db


def seals_listed(anon) -> dict[str, dict]:
    response = anon.get("/api/v1/public/trust-list")
    assert response.status_code == 200
    return {s["key_id"]: s for s in response.json()["trust_list"]["seals"]}


def test_the_public_trust_list_says_a_seal_is_revoked(anon, issued, issuer_agency):
    # given: the issuer's seal, listed as active and unrevoked
    seal = SigningKey.objects.get(kind="seal", agency=issuer_agency, active=True)
    before = seals_listed(anon)
    assert (before[seal.key_id]["active"], before[seal.key_id]["revoked_at"]) == (True, None)
    # when: it is revoked
    call_command("pki", "revoke-seal", "--key-id", seal.key_id, "--reason", "印章私钥泄露")
    # then: the list says so, with time and reason, for exactly that certificate
    after = seals_listed(anon)
    entry = after[seal.key_id]
    seal.refresh_from_db()
    assert entry["active"] is False
    assert entry["revoked_at"] == seal.revoked_at.isoformat()
    assert entry["revocation_reason"] == "印章私钥泄露"
    assert entry["fingerprint"] == certificate_sha256(seal.certificate_pem)
    others = {k: v for k, v in after.items() if k != seal.key_id}
    assert all(v["revoked_at"] is None for v in others.values())
    assert {k: before[k] for k in others if k in before} == {
        k: v for k, v in others.items() if k in before
    }
