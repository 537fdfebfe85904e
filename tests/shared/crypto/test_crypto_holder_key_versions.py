"""Holder-code key versions (issue #14 item 6): every ciphertext and digest names its version,
version 1 is the format the databases already hold, and a retired version is refused."""

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.crypto import holder_codes as hc
from shared.crypto.suite_base import CryptoError

OLD, NEW = "old-master-secret", "new-master-secret"
CODE = "91410100MA3X7Y8L0X"
# Made before key versions existed (tests/shared/crypto/test_crypto_holder_codes.py).
STORED_DIGEST = "a3e2d5d2b68106769f9d3c58c7d281c156b458b394ff8418e1bcddfc2e635000"
STORED_CIPHERTEXT = bytes.fromhex(
    "891e68700b8ce1fff03da39df48da5c46d946191395ae2b00dc179c17e01e87f1017fcd55994487e61c88fa14da9"
)
LEGACY_MASTER = "fixed-test-master"


def test_a_single_key_is_version_1_and_writes_the_legacy_format():
    # given
    ring = hc.HolderKeyring.single(LEGACY_MASTER)
    # when
    blob = hc.keyring_encrypt(ring, CODE)
    # then
    assert ring.current == 1 and ring.readable == (1,)
    assert hc.keyring_decrypt(ring, STORED_CIPHERTEXT) == CODE
    assert hc.keyring_digest(ring, CODE) == STORED_DIGEST
    assert hc.holder_code_decrypt(LEGACY_MASTER, blob) == CODE  # unprefixed, as before
    assert (hc.blob_version(blob), hc.digest_version(STORED_DIGEST)) == (1, 1)


def test_a_newer_version_names_itself_in_blob_and_digest():
    # given
    ring = hc.HolderKeyring.parse(f"2:{NEW},1:{OLD}")
    # when
    blob = hc.keyring_encrypt(ring, CODE)
    digest = hc.keyring_digest(ring, CODE)
    # then
    assert blob[:3] == b"HK\x02" and hc.blob_version(blob) == 2
    assert digest.startswith("2:") and len(digest) == 66 and hc.digest_version(digest) == 2
    assert hc.keyring_decrypt(ring, memoryview(blob)) == CODE
    assert CODE.encode() not in blob


def test_during_the_overlap_both_versions_read_and_lookups_carry_both_digests():
    # given: a value written when only the old key existed
    before = hc.HolderKeyring.single(OLD)
    old_blob, old_digest = hc.keyring_encrypt(before, CODE), hc.keyring_digest(before, CODE)
    # when: the new key is added in front
    ring = hc.HolderKeyring.parse(f"2:{NEW},1:{OLD}")
    # then
    assert ring.readable == (2, 1)
    assert hc.keyring_decrypt(ring, old_blob) == CODE
    digests = hc.keyring_digests(ring, CODE)
    assert digests == [hc.keyring_digest(ring, CODE, 2), old_digest]
    assert hc.keyring_digests(ring, "") == []


def test_a_retired_version_is_refused_and_no_longer_looked_up():
    # given
    ring = hc.HolderKeyring.parse(f"2:{NEW},1:{OLD}")
    old_blob = hc.keyring_encrypt(ring, CODE, version=1)
    # when
    retired = ring.retiring({1})
    # then
    with pytest.raises(hc.HolderKeyUnavailableError) as excinfo:
        hc.keyring_decrypt(retired, old_blob)
    assert excinfo.value.version == 1
    assert excinfo.value.code == "holder_key.unavailable"
    assert "版本 1" in excinfo.value.message
    assert retired.readable == (2,)
    assert hc.keyring_digests(retired, CODE) == [hc.keyring_digest(ring, CODE, 2)]
    assert hc.keyring_decrypt(ring, old_blob) == CODE  # the unretired ring is unchanged


def test_a_version_nobody_configured_is_refused():
    # given
    blob = hc.keyring_encrypt(hc.HolderKeyring.parse(f"3:{NEW}"), CODE)
    ring = hc.HolderKeyring.parse(f"2:{NEW}")
    # when / then
    with pytest.raises(hc.HolderKeyUnavailableError) as excinfo:
        hc.keyring_decrypt(ring, blob)
    assert excinfo.value.version == 3


def test_a_changed_version_byte_fails_authentication():
    # given: versions 2 and 3 share nothing but the format; the version is bound in the AAD
    ring = hc.HolderKeyring.parse(f"3:{NEW},2:{NEW}")
    blob = hc.keyring_encrypt(ring, CODE, version=2)
    # when
    forged = b"HK\x03" + blob[3:]
    # then
    with pytest.raises(CryptoError) as excinfo:
        hc.keyring_decrypt(ring, forged)
    assert excinfo.value.code == "crypto.decrypt_failed"


def test_a_legacy_blob_whose_nonce_looks_like_a_prefix_still_reads():
    # given: a version-1 blob whose random nonce happens to start with b"HK\x02" (2^-24)
    enc_key = hc._keys(OLD)[0]
    nonce = b"HK\x02" + bytes(9)
    encryptor = Cipher(algorithms.SM4(enc_key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(b"elicense:holder_code")
    legacy = nonce + encryptor.update(CODE.encode()) + encryptor.finalize() + encryptor.tag
    ring = hc.HolderKeyring.parse(f"2:{NEW},1:{OLD}")
    # when
    code = hc.keyring_decrypt(ring, legacy)
    # then
    assert hc.blob_version(legacy) == 2  # what the prefix says …
    assert code == CODE  # … but authentication settles it


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "lists no key"),
        ("secret-without-version", "<version>:<secret>"),
        ("2:a,2:b", "listed twice"),
        ("0:a", "not in 1"),
        ("256:a", "not in 1"),
        ("2:", "is empty"),
    ],
)
def test_a_malformed_keyring_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        hc.HolderKeyring.parse(text)


def test_the_current_version_cannot_be_retired():
    ring = hc.HolderKeyring.parse(f"2:{NEW},1:{OLD}")
    with pytest.raises(ValueError, match="current"):
        ring.retiring({2})
