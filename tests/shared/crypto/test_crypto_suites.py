"""Known-answer and cross-implementation tests for ``shared.crypto.suites``.

Oracles: the GB/T and RFC test vectors, and the independent pure-Python ``gmssl`` (test-only) for
SM2 signatures and SM3.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import func as gmssl_func
from gmssl import sm2 as gmssl_sm2
from gmssl import sm3 as gmssl_sm3

from shared.crypto import _sm2
from shared.crypto.suites import (
    CryptoError,
    Sm2PrivateKey,
    Sm2PublicKey,
    get_suite,
    key_id,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_pem,
    public_key_of,
    public_key_to_pem,
    suite_for_key,
)

GM = get_suite("gm")
INTL = get_suite("intl")
BOTH = pytest.mark.parametrize("suite", [GM, INTL], ids=["gm", "intl"])

SM2_CURVE_OID_DER = bytes.fromhex("06082a811ccf5501822d")  # OID 1.2.156.10197.1.301
P256_CURVE_OID_DER = bytes.fromhex("06082a8648ce3d030107")  # OID 1.2.840.10045.3.1.7


def _flip_bit(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _gmssl_for(key: Sm2PrivateKey | None, public: Sm2PublicKey) -> gmssl_sm2.CryptSM2:
    private_hex = f"{key.native.private_numbers().private_value:064x}" if key else ""
    crypt = gmssl_sm2.CryptSM2(private_key=private_hex, public_key=public.point[1:].hex())
    # gmssl's constructor lstrip("04")s the key, mangling any x that starts with 0 or 4.
    crypt.public_key = public.point[1:].hex()
    return crypt


def _der_to_raw_hex(signature: bytes) -> str:
    r, s = decode_dss_signature(signature)
    return f"{r:064x}{s:064x}"


def _raw_hex_to_der(raw: str) -> bytes:
    return encode_dss_signature(int(raw[:64], 16), int(raw[64:], 16))


# --- suite selection -----------------------------------------------------------------------


def test_get_suite_by_name():
    # when / then
    assert (GM.name, GM.token_alg, GM.key_size) == ("gm", "SM2-SM3", 16)
    assert (INTL.name, INTL.token_alg, INTL.key_size) == ("intl", "ES256", 32)
    assert get_suite("gm") is GM


@pytest.mark.parametrize("name", ["", "GM", "sm2", "rsa", "intl "])
def test_get_suite_unknown_name_is_value_error(name):
    with pytest.raises(ValueError, match="unknown crypto suite"):
        get_suite(name)


# --- digests -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # GB/T 32905-2016, Appendix A examples 1 and 2.
        (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    ],
)
def test_sm3_known_answers(message, expected):
    assert GM.digest(message).hex() == expected


def test_sm3_agrees_with_gmssl():
    message = "河南省电子证照库".encode()
    assert GM.digest(message).hex() == gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(message))


def test_sha256_known_answer():
    # FIPS 180-2, "abc".
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert INTL.digest(b"abc").hex() == expected


# --- MAC -----------------------------------------------------------------------------------


def test_hmac_sha256_known_answer():
    # RFC 4231 test case 1.
    expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert INTL.mac(b"\x0b" * 20, b"Hi There") == expected


def test_hmac_sm3_agrees_with_rfc2104_over_gmssl_sm3():
    # given: HMAC (RFC 2104) built by hand on the independent gmssl SM3, block size 64
    key, data = bytes(range(32)), b"41010019900307001X"
    padded = key.ljust(64, b"\x00")

    def sm3(message: bytes) -> bytes:
        return bytes.fromhex(gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(message)))

    inner = sm3(bytes(b ^ 0x36 for b in padded) + data)
    expected = sm3(bytes(b ^ 0x5C for b in padded) + inner).hex()
    # when / then
    assert GM.mac(key, data) == expected


@BOTH
def test_mac_is_keyed_and_deterministic(suite):
    key_a, key_b = b"a" * 16, b"b" * 16
    assert suite.mac(key_a, b"holder") == suite.mac(key_a, b"holder")
    assert suite.mac(key_a, b"holder") != suite.mac(key_b, b"holder")
    assert len(suite.mac(key_a, b"holder")) == 64


@BOTH
def test_mac_refuses_short_keys(suite):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        suite.mac(b"k" * 15, b"holder")


# --- symmetric encryption ------------------------------------------------------------------


def test_sm4_known_answer_ecb():
    # GB/T 32907-2016, Appendix A example 1 (through cryptography's SM4, which the gm suite uses).
    key = plaintext = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    assert ciphertext.hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_known_answer_through_decrypt():
    # RFC 8998 Appendix A.1 (SM4-GCM), laid out as our blob: nonce ‖ ciphertext ‖ tag.
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    nonce = bytes.fromhex("00001234567800000000abcd")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    plaintext = bytes.fromhex(
        "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
        "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
    )
    ciphertext = bytes.fromhex(
        "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735"
        "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
    )
    tag = bytes.fromhex("83de3541e4c2b58177e065a9bf7b62ec")
    assert GM.decrypt(key, nonce + ciphertext + tag, aad) == plaintext


def test_aes_256_gcm_known_answer_through_decrypt():
    # McGrew & Viega, "The GCM mode of operation", test case 16 (AES-256).
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    nonce = bytes.fromhex("cafebabefacedbaddecaf888")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    ciphertext = bytes.fromhex(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    )
    tag = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")
    assert INTL.decrypt(key, nonce + ciphertext + tag, aad) == plaintext


@BOTH
@pytest.mark.parametrize("plaintext", [b"", b"4101", "张三 410101199003070019".encode() * 20])
def test_encrypt_round_trip(suite, plaintext):
    # given
    key = bytes(range(suite.key_size))
    # when
    blob = suite.encrypt(key, plaintext, aad=b"holder:v1")
    # then
    assert len(blob) == 12 + len(plaintext) + 16
    assert suite.decrypt(key, blob, aad=b"holder:v1") == plaintext


@BOTH
def test_encrypt_uses_a_fresh_nonce(suite):
    key = bytes(suite.key_size)
    first, second = suite.encrypt(key, b"same"), suite.encrypt(key, b"same")
    assert first[:12] != second[:12]
    assert first != second


@BOTH
def test_decrypt_detects_every_flipped_bit_region(suite):
    # given
    key = bytes(range(suite.key_size))
    blob = suite.encrypt(key, b"410101199003070019", aad=b"a")
    # when / then: nonce, ciphertext and tag are each covered by the tag
    for index in (0, 11, 12, len(blob) - 17, len(blob) - 16, len(blob) - 1):
        with pytest.raises(CryptoError) as caught:
            suite.decrypt(key, _flip_bit(blob, index), aad=b"a")
        assert caught.value.code == "crypto.decrypt_failed"


@BOTH
@pytest.mark.parametrize(
    "case", ["wrong_aad", "missing_aad", "wrong_key", "truncated", "too_short", "extended"]
)
def test_decrypt_refuses_mismatches(suite, case):
    # given
    key = bytes(range(suite.key_size))
    blob = suite.encrypt(key, b"secret", aad=b"a")
    other_key = bytes(reversed(key))
    attempts = {
        "wrong_aad": (key, blob, b"b"),
        "missing_aad": (key, blob, b""),
        "wrong_key": (other_key, blob, b"a"),
        "truncated": (key, blob[:-1], b"a"),
        "too_short": (key, blob[:27], b"a"),
        "extended": (key, blob + b"\x00", b"a"),
    }
    used_key, used_blob, aad = attempts[case]
    # when / then
    with pytest.raises(CryptoError) as caught:
        suite.decrypt(used_key, used_blob, aad=aad)
    assert caught.value.code == "crypto.decrypt_failed"
    assert caught.value.message == "密文校验失败：数据被篡改、密钥或附加数据不符"


@BOTH
@pytest.mark.parametrize("delta", [-1, 1])
def test_symmetric_key_must_have_exact_size(suite, delta):
    key = bytes(suite.key_size + delta)
    with pytest.raises(ValueError, match=f"exactly {suite.key_size} bytes"):
        suite.encrypt(key, b"x")
    with pytest.raises(ValueError, match=f"exactly {suite.key_size} bytes"):
        suite.decrypt(key, bytes(40))


# --- SM2 against the standard and against gmssl ----------------------------------------------

# GM/T 0003.5-2012 A.2 / GB/T 32918.5-2017 Annex A: recommended curve, ID 1234567812345678.
STD_PRIVATE = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
STD_PUBLIC = (
    "04"
    "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
)
STD_K = "59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21"
STD_SIGNATURE = (
    "f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3"
    "b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa"
)


def test_sm2_standard_example_key_derivation():
    key = _sm2.from_private_value(STD_PRIVATE)
    assert key.public.point.hex() == STD_PUBLIC


def test_sm2_standard_example_signature_verifies():
    # given
    public = _sm2.public_from_point(bytes.fromhex(STD_PUBLIC))
    signature = _raw_hex_to_der(STD_SIGNATURE)
    # when / then
    assert GM.verify(public, signature, b"message digest") is True
    assert GM.verify(public, signature, b"message digest!") is False


def test_sm2_standard_example_reproduced_by_gmssl_oracle():
    # The oracle itself is right on the standard's vector (fixed k), so its verdicts below count.
    key = _sm2.from_private_value(STD_PRIVATE)
    crypt = _gmssl_for(key, key.public)
    assert crypt.sign_with_sm3(b"message digest", STD_K) == STD_SIGNATURE


@pytest.mark.parametrize("message", [b"", b"message digest", "电子证照".encode() * 50])
def test_sm2_our_signature_verifies_with_gmssl(message):
    # given
    key = GM.generate_key()
    # when
    signature = GM.sign(key, message)
    # then
    crypt = _gmssl_for(None, GM.public_key_of(key))
    assert crypt.verify_with_sm3(_der_to_raw_hex(signature), message) is True
    assert crypt.verify_with_sm3(_der_to_raw_hex(signature), message + b"x") is False


def test_sm2_gmssl_signature_verifies_with_ours():
    # given
    key = GM.generate_key()
    crypt = _gmssl_for(key, key.public)
    message = "豫A12345 营业执照".encode()
    # when
    signature = _raw_hex_to_der(crypt.sign_with_sm3(message))
    # then
    assert GM.verify(GM.public_key_of(key), signature, message) is True


def test_sm2_flipped_bit_fails_in_both_implementations():
    # given
    key = GM.generate_key()
    public = GM.public_key_of(key)
    crypt = _gmssl_for(None, public)
    message = b"license-0001"
    signature = GM.sign(key, message)
    raw = bytes.fromhex(_der_to_raw_hex(signature))
    # when / then: flip a bit in r, in s, and in the message
    for bad_raw in (_flip_bit(raw, 5), _flip_bit(raw, 40)):
        assert crypt.verify_with_sm3(bad_raw.hex(), message) is False
        assert GM.verify(public, _raw_hex_to_der(bad_raw.hex()), message) is False
    assert crypt.verify_with_sm3(raw.hex(), _flip_bit(message, 0)) is False
    assert GM.verify(public, signature, _flip_bit(message, 0)) is False


def test_sm2_signature_is_randomised_der():
    key = GM.generate_key()
    first, second = GM.sign(key, b"x"), GM.sign(key, b"x")
    assert first != second
    assert first[0] == 0x30
    assert GM.verify(GM.public_key_of(key), first, b"x")
    assert GM.verify(GM.public_key_of(key), second, b"x")


# --- signatures, both suites -----------------------------------------------------------------


@BOTH
def test_sign_verify_round_trip_and_other_key(suite):
    key, other = suite.generate_key(), suite.generate_key()
    signature = suite.sign(key, b"payload")
    assert suite.verify(suite.public_key_of(key), signature, b"payload") is True
    assert suite.verify(suite.public_key_of(other), signature, b"payload") is False


def _garbage_signatures(signature: bytes) -> list[bytes]:
    r, s = decode_dss_signature(signature)
    body = signature[2:]
    return [
        b"",
        b"\x00",
        b"\x30\x00",
        b"\x30\x06\x02\x01\x00\x02\x01\x00",  # r = s = 0
        b"\x30\x06\x02\x01\x01\x02\x01\x01",  # r = s = 1
        signature + b"\x00",  # trailing byte
        signature[:-1],
        b"\x30\x81" + bytes([len(body)]) + body,  # non-canonical long-form length
        encode_dss_signature(r, s + 2**256),  # s out of range
        b"x" * 1000,
    ]


@BOTH
def test_verify_returns_false_for_garbage_never_raises(suite):
    key = suite.generate_key()
    public = suite.public_key_of(key)
    signature = suite.sign(key, b"payload")
    for garbage in _garbage_signatures(signature):
        assert suite.verify(public, garbage, b"payload") is False, garbage.hex()


def test_ecdsa_high_s_twin_is_still_valid_for_intl():
    # ECDSA is malleable: (r, n - s) verifies too. Tokens carry raw r ‖ s and verify the same way,
    # so this is documented behaviour rather than a bug; callers must not use signatures as ids.
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    key = INTL.generate_key()
    r, s = decode_dss_signature(INTL.sign(key, b"x"))
    assert INTL.verify(INTL.public_key_of(key), encode_dss_signature(r, n - s), b"x") is True


@pytest.mark.parametrize(("suite", "other"), [(GM, INTL), (INTL, GM)], ids=["gm", "intl"])
def test_keys_of_the_other_suite_are_type_errors(suite, other):
    foreign = other.generate_key()
    with pytest.raises(TypeError, match=f"the {suite.name} suite needs"):
        suite.sign(foreign, b"x")
    with pytest.raises(TypeError, match=f"the {suite.name} suite needs"):
        suite.verify(other.public_key_of(foreign), b"\x30\x00", b"x")


# --- keys ------------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_private_key_pem_round_trip(suite, password):
    # given
    key = suite.generate_key()
    # when
    pem = suite.private_key_to_pem(key, password)
    restored = suite.private_key_from_pem(pem, password)
    # then
    header = b"ENCRYPTED PRIVATE KEY" if password else b"-----BEGIN PRIVATE KEY-----"
    assert header in pem
    assert suite.public_key_of(restored) == suite.public_key_of(key)
    assert suite.verify(suite.public_key_of(key), suite.sign(restored, b"m"), b"m") is True


@BOTH
def test_private_key_wrong_or_missing_password_is_crypto_error(suite):
    pem = suite.private_key_to_pem(suite.generate_key(), b"right")
    for password in (b"wrong", None):
        with pytest.raises(CryptoError) as caught:
            suite.private_key_from_pem(pem, password)
        assert caught.value.code == "crypto.bad_key"


@BOTH
def test_empty_password_is_refused(suite):
    with pytest.raises(ValueError, match="non-empty"):
        suite.private_key_to_pem(suite.generate_key(), b"")


@BOTH
def test_public_key_pem_round_trip_and_key_id(suite):
    # given
    public = suite.public_key_of(suite.generate_key())
    # when
    pem = suite.public_key_to_pem(public)
    restored = suite.public_key_from_pem(pem)
    # then
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert restored == public
    der = suite.public_key_to_der(public)
    assert suite.key_id(public) == suite.digest(der)[:16].hex()
    assert len(suite.key_id(public)) == 32
    assert suite.key_id(restored) == suite.key_id(public)


def test_sm2_pem_is_standard_spki_and_pkcs8_with_sm2_curve_oid():
    # given
    key = GM.generate_key()
    public = GM.public_key_of(key)
    # when
    spki_der = _pem_body(GM.public_key_to_pem(public))
    pkcs8_der = _pem_body(GM.private_key_to_pem(key, None))
    # then: id-ecPublicKey (1.2.840.10045.2.1) with the SM2 curve, point = 04 ‖ x ‖ y
    assert spki_der == GM.public_key_to_der(public)
    assert (
        spki_der
        == (bytes.fromhex("3059301306072a8648ce3d0201") + SM2_CURVE_OID_DER + b"\x03\x42\x00")
        + public.point
    )
    # PKCS#8: version 0, the same AlgorithmIdentifier, then the ECPrivateKey
    assert pkcs8_der[3:].startswith(
        bytes.fromhex("020100301306072a8648ce3d0201") + SM2_CURVE_OID_DER
    )


def _pem_body(pem: bytes) -> bytes:
    lines = [line for line in pem.splitlines() if line and not line.startswith(b"-----")]
    return base64.b64decode(b"".join(lines))


@pytest.mark.parametrize(("suite", "other"), [(GM, INTL), (INTL, GM)], ids=["gm", "intl"])
def test_pem_of_the_other_suite_is_refused(suite, other):
    foreign = other.generate_key()
    with pytest.raises(CryptoError) as caught:
        suite.private_key_from_pem(other.private_key_to_pem(foreign, None), None)
    assert caught.value.code == "crypto.bad_key"
    with pytest.raises(CryptoError) as caught:
        suite.public_key_from_pem(other.public_key_to_pem(other.public_key_of(foreign)))
    assert caught.value.code == "crypto.bad_key"


def test_module_level_key_functions_dispatch_on_the_key():
    for suite in (GM, INTL):
        # given
        key = suite.generate_key()
        public = public_key_of(key)
        # when
        private_pem = private_key_to_pem(key, b"pw")
        public_pem = public_key_to_pem(public)
        # then
        assert suite_for_key(key) is suite
        assert suite_for_key(public) is suite
        assert public == suite.public_key_of(key)
        assert public_key_of(private_key_from_pem(private_pem, b"pw")) == public
        assert public_key_from_pem(public_pem) == public
        assert key_id(public) == suite.key_id(public)
        curve_oid = SM2_CURVE_OID_DER if suite is GM else P256_CURVE_OID_DER
        assert curve_oid in suite.public_key_to_der(public)


@pytest.mark.parametrize(
    "data", [b"", b"garbage", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]
)
def test_module_level_pem_readers_refuse_garbage(data):
    with pytest.raises(CryptoError) as caught:
        public_key_from_pem(data)
    assert caught.value.code == "crypto.bad_key"
    with pytest.raises(CryptoError) as caught:
        private_key_from_pem(data, None)
    assert caught.value.code == "crypto.bad_key"


def test_keys_of_no_suite_are_refused():
    p384 = ec.generate_private_key(ec.SECP384R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    for key in (p384, p384.public_key(), rsa_key):
        with pytest.raises(TypeError, match="belongs to no crypto suite"):
            suite_for_key(key)
    p384_pem = p384.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(CryptoError):
        public_key_from_pem(p384_pem)


def test_sm2_private_key_repr_hides_the_scalar():
    key = _sm2.from_private_value(STD_PRIVATE)
    assert repr(key) == f"Sm2PrivateKey(public={STD_PUBLIC})"
    assert f"{STD_PRIVATE:x}" not in repr(key).lower()


def test_sm2_public_keys_compare_by_point():
    key = _sm2.from_private_value(STD_PRIVATE)
    again = _sm2.public_from_point(bytes.fromhex(STD_PUBLIC))
    assert key.public == again
    assert hash(key.public) == hash(again)
    assert key.public != GM.public_key_of(GM.generate_key())


@pytest.mark.parametrize("point", [b"", b"\x04" + b"\x00" * 64, b"\x05" + b"\x01" * 64])
def test_sm2_public_from_point_refuses_off_curve_points(point):
    with pytest.raises(ValueError, match="not a point on the SM2 curve"):
        _sm2.public_from_point(point)
