"""The keystore's seal family: ECDSA and SM2 seals are made on first use, and rotated alike —
the old one retired, a new one active, and this process's caches reset for either suite."""

import pytest

from shared.files import keystore
from shared.files.keystore import keys, seals
from shared.files.models import SigningKey


@pytest.mark.parametrize(
    ("suite", "rotate"),
    [(keystore.ECDSA, keystore.seal_rotate), (keystore.SM2, keystore.sm2_seal_rotate)],
    ids=["ecdsa", "sm2"],
)
def test_rotating_either_suite_retires_the_seal_and_resets_the_caches(
    pki, issuer_agency, suite, rotate, django_capture_on_commit_callbacks
):
    # given: the agency's seal, made on first use, with its key and a signer cached
    old = seals.seal_get_or_create(suite, issuer_agency)
    assert seals.seal_get_or_create(suite, issuer_agency) == old
    keystore.private_key(old)
    seals._signers["marker"] = object()  # any cached signer
    assert old.key_id in keys._private_keys
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        new = rotate(agency=issuer_agency)
    # then
    assert keystore.reset_caches in callbacks
    old.refresh_from_db()
    assert (old.active, new.active, new.kind) == (False, True, suite.kind)
    assert new.key_id != old.key_id
    assert (keys._private_keys, seals._signers) == ({}, {})
    assert seals.seal_get_or_create(suite, issuer_agency) == new
    active = SigningKey.objects.filter(kind=suite.kind, agency=issuer_agency, active=True)
    assert list(active) == [new]
