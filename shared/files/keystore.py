"""The library's keys: the CA, seal certificates, the token key, and cached signers.

Writes (`pki_init`, `seal_create`, `seal_rotate`, `token_key_rotate`) are services; the rest
reads keys and caches what is expensive to rebuild, one of each per worker process:
decrypted keys and pyHanko signers (FIELD-NOTES: parsing a key per signature halves the rate).

Keys at rest are PBES2-encrypted PKCS#8 with `FILES_KEY_PASSWORD`. Without it (development
only) the password is derived from SECRET_KEY; production refuses to start without its own
FILES_KEY_PASSWORD (shared/conf/production.py), and `make demo` generates one per library
(DEMO_DIR/secrets.json). A key created in an HSM (PKCS#11) never leaves it; only its
certificate is stored here.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import threading
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import Agency
from shared.core.errors import ConflictError, PermanentError
from shared.crypto import pki, ses, sm2x509
from shared.crypto.ofd import OfdSigner
from shared.crypto.pdfsign import CachedKeySigner, SealSigner, asn1_certificate
from shared.crypto.suites import (
    PublicKey,
    get_suite,
    private_key_from_pem,
    public_key_from_pem,
)
from shared.crypto.tokens import TOKEN_ALGORITHMS, sign_token
from shared.crypto.tsa import timestamper_for
from shared.files.models import SigningKey
from shared.files.render import find_cjk_font
from shared.files.seal_image import seal_png

logger = logging.getLogger(__name__)

CA_DAYS = 3650
SEAL_DAYS = 1825
SEAL_CAPTION = "电子证照专用章"
OFD_SEAL_MM = 42  # the printed size of the e-seal picture, as on the PDF

_lock = threading.Lock()
_signers: dict[str, SealSigner] = {}
_private_keys: dict[str, Any] = {}
_pkcs11_session: Any = None


def _password() -> bytes:
    configured = settings.FILES_KEY_PASSWORD
    if configured:
        return configured.encode()
    # Development fallback: with the public default SECRET_KEY this protects nothing, which is
    # why production and the demo always set FILES_KEY_PASSWORD.
    return (
        hashlib.sha256(f"elicense-files-keys:{settings.SECRET_KEY}".encode()).hexdigest().encode()
    )


def font_path() -> str:
    # Cached: looking the font up runs fc-match, a subprocess, which costs more than a render.
    return _font_path(settings.FILES_CJK_FONT)


@functools.cache
def _font_path(configured: str) -> str:
    return find_cjk_font(configured)


def library_label() -> str:
    return f"{settings.LIBRARY_NAME}（{settings.LIBRARY_CODE}）"


# --- reads -------------------------------------------------------------------------------


def ca_active() -> SigningKey | None:
    return SigningKey.objects.filter(kind=SigningKey.Kind.CA, active=True).first()


def _require_ca() -> SigningKey:
    ca = ca_active()
    if ca is None:
        if not settings.FILES_PKI_AUTO_INIT:
            raise PermanentError(
                "pki.not_initialised", "尚未初始化证书体系，请先运行 manage.py <tier> pki init"
            )
        logger.warning("pki: no CA yet, creating a development CA (run `pki init` explicitly)")
        pki_init()
        ca = ca_active()
        assert ca is not None
    return ca


def private_key(key: SigningKey) -> Any:
    """The decrypted private key (cached per process). Not for HSM keys."""
    cached = _private_keys.get(key.key_id)
    if cached is not None:
        return cached
    if key.backend != SigningKey.Backend.DATABASE or not key.private_key_pem:
        raise PermanentError("pki.key_not_exportable", "该密钥保存在硬件密码模块中")
    loaded = private_key_from_pem(key.private_key_pem.encode(), _password())
    _private_keys[key.key_id] = loaded
    return loaded


def token_key_active() -> SigningKey:
    """The active token key of the configured suite, created on first use."""
    suite = settings.CRYPTO_SUITE
    key = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, active=True).first()
    if key is not None and key.suite == suite:
        return key
    return token_key_rotate()


def token_public_key(alg: str, kid: str) -> PublicKey | None:
    """For `verify_token`: any token key this library ever used (rotated ones included)."""
    suite_name = TOKEN_ALGORITHMS.get(alg)
    key = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, key_id=kid).first()
    if key is None or key.suite != suite_name:
        return None
    return public_key_from_pem(key.public_key_pem.encode())


def token_sign(claims: dict[str, Any]) -> str:
    key = token_key_active()
    return sign_token(
        suite=get_suite(key.suite), key=private_key(key), kid=key.key_id, claims=claims
    )


def seal_for(*, agency: Agency | None) -> SigningKey:
    """The active seal of `agency` (None: the library's own), created on first use."""
    key = SigningKey.objects.filter(kind=SigningKey.Kind.SEAL, agency=agency, active=True).first()
    return key if key is not None else seal_create(agency=agency)


def seal_signer(key: SigningKey) -> SealSigner:
    """A reusable pyHanko signer for a seal key, one per key and worker process."""
    signer = _signers.get(key.key_id)
    if signer is not None:
        return signer
    with _lock:
        signer = _signers.get(key.key_id)
        if signer is None:
            signer = _build_signer(key)
            _signers[key.key_id] = signer
    return signer


def _build_signer(key: SigningKey) -> SealSigner:
    cert = pki.certificate_from_pem(key.certificate_pem)
    chain = [pki.certificate_from_pem(ca.certificate_pem) for ca in _cas()]
    if key.backend == SigningKey.Backend.PKCS11:
        from pyhanko.sign.pkcs11 import PKCS11Signer

        engine: Any = PKCS11Signer(
            pkcs11_session(),
            key_label=key.pkcs11_label,
            signing_cert=asn1_certificate(cert),
            ca_chain=[asn1_certificate(c) for c in chain],
            # Hash here, sign raw (CKM_ECDSA): SoftHSM2 and many HSMs lack CKM_ECDSA_SHA256.
            use_raw_mechanism=True,
        )
    else:
        engine = CachedKeySigner(key=private_key(key), cert=cert, chain=chain)
    name = key.agency.name if key.agency else settings.LIBRARY_NAME
    return SealSigner(
        signer=engine,
        seal_png=seal_png(name, SEAL_CAPTION, font_path()),
        name=name,
        timestamper=timestamper_for(settings.FILES_TSA_URL),
    )


def _cas() -> list[SigningKey]:
    return list(SigningKey.objects.filter(kind=SigningKey.Kind.CA).order_by("-created_at"))


def pkcs11_session() -> Any:
    """One PKCS#11 session per process (opening one costs a login)."""
    global _pkcs11_session
    if _pkcs11_session is None:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import open_pkcs11_session

        if not settings.FILES_PKCS11_LIB:
            raise PermanentError("pki.pkcs11_not_configured", "未配置 PKCS#11 模块")
        _pkcs11_session = open_pkcs11_session(
            settings.FILES_PKCS11_LIB,
            token_criteria=TokenCriteria(label=settings.FILES_PKCS11_TOKEN),
            user_pin=settings.FILES_PKCS11_PIN,
        )
    return _pkcs11_session


def reset_caches() -> None:
    """Forget cached keys and signers (after a rotation in this process, and in tests)."""
    global _pkcs11_session
    _signers.clear()
    _private_keys.clear()
    _pkcs11_session = None


# --- writes ------------------------------------------------------------------------------


@transaction.atomic
def pki_init(*, ca_days: int = CA_DAYS) -> dict[str, SigningKey]:
    """Create this library's CA, token key and own seal if missing. Safe to run twice.

    In development each library runs its own CA (the hub's is the provincial CA); production
    replaces it by importing the provincial CA's certificates (docs/pki.md).
    """
    ca = ca_active()
    if ca is None:
        now = timezone.now()
        key = pki.generate_p256()
        name = pki.subject_name(
            common_name=f"河南省电子证照根CA（{settings.LIBRARY_CODE}）",
            organization=settings.LIBRARY_NAME,
            unit="电子证照证书体系",
        )
        issued = pki.ca_create(key=key, name=name, days=ca_days, now=now)
        ca = _store_ec(kind=SigningKey.Kind.CA, agency=None, key=key, issued=issued, subject=name)
    token = SigningKey.objects.filter(kind=SigningKey.Kind.TOKEN, active=True).first()
    if token is None or token.suite != settings.CRYPTO_SUITE:
        token = token_key_rotate()
    sm2_ca = sm2_ca_active() or _sm2_ca_create(ca_days=ca_days)
    return {"ca": ca, "token": token, "seal": seal_for(agency=None), "sm2_ca": sm2_ca}


def _store_ec(
    *,
    kind: str,
    agency: Agency | None,
    key: ec.EllipticCurvePrivateKey | None,
    issued: pki.IssuedCertificate,
    subject: Any,
    pkcs11_label: str = "",
) -> SigningKey:
    public = issued.certificate.public_key()
    return SigningKey.objects.create(
        kind=kind,
        agency=agency,
        suite="intl",
        key_id=issued.fingerprint[:32],
        subject=subject.rfc4514_string(),
        serial_hex=issued.serial_hex,
        certificate_pem=issued.pem,
        public_key_pem=public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode(),
        private_key_pem=pki.key_to_encrypted_pem(key, _password()) if key is not None else "",
        backend=SigningKey.Backend.DATABASE if key is not None else SigningKey.Backend.PKCS11,
        pkcs11_label=pkcs11_label,
        not_before=issued.not_before,
        not_after=issued.not_after,
    )


def _seal_name(agency: Agency | None) -> Any:
    if agency is None:
        return pki.subject_name(
            common_name=settings.LIBRARY_NAME,
            organization=settings.LIBRARY_NAME,
            serial_number=settings.LIBRARY_CODE,
            unit="电子证照库",
        )
    return pki.subject_name(
        common_name=agency.name, organization=agency.name, serial_number=agency.code
    )


def _issue_for(public_key: ec.EllipticCurvePublicKey, *, name: Any, kind: str = "seal") -> Any:
    ca = _require_ca()
    return pki.certificate_issue(
        ca_key=private_key(ca),
        ca_cert=pki.certificate_from_pem(ca.certificate_pem),
        public_key=public_key,
        name=name,
        days=SEAL_DAYS,
        now=timezone.now(),
        kind=kind,
    )


@transaction.atomic
def seal_create(*, agency: Agency | None) -> SigningKey:
    """A new seal key and certificate for `agency` (None: the library), chained to the CA.

    Two workers creating the first seal of an agency at once: the partial unique constraint lets
    one win; the other reads the winner's key.
    """
    name = _seal_name(agency)
    key = pki.generate_p256()
    issued = _issue_for(key.public_key(), name=name)
    try:
        with transaction.atomic():
            return _store_ec(
                kind=SigningKey.Kind.SEAL, agency=agency, key=key, issued=issued, subject=name
            )
    except IntegrityError:
        existing = SigningKey.objects.filter(
            kind=SigningKey.Kind.SEAL, agency=agency, active=True
        ).first()
        if existing is None:
            raise
        return existing


def _retire(kind: str, agency: Agency | None) -> None:
    SigningKey.objects.filter(kind=kind, agency=agency, active=True).update(
        active=False, retired_at=timezone.now()
    )


@transaction.atomic
def seal_rotate(*, agency: Agency | None) -> SigningKey:
    """Retire the active seal and create a new one. Files sealed with the old one still verify:
    its certificate stays valid and stays in the trust list (docs/pki.md)."""
    _retire(SigningKey.Kind.SEAL, agency)
    new = seal_create(agency=agency)
    transaction.on_commit(reset_caches)
    return new


@transaction.atomic
def seal_create_pkcs11(*, agency: Agency | None, label: str) -> SigningKey:
    """A seal whose P-256 key is generated inside the HSM; only the certificate is stored."""
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters

    # Key generation needs a read-write session; signing reuses the read-only one.
    token = pkcs11.lib(settings.FILES_PKCS11_LIB).get_token(token_label=settings.FILES_PKCS11_TOKEN)
    with token.open(rw=True, user_pin=settings.FILES_PKCS11_PIN) as session:
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
            local=True,
        )
        public, _private = params.generate_keypair(store=True, label=label)
        spki = encode_ec_public_key(public)
    public_key = serialization.load_der_public_key(spki)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    _retire(SigningKey.Kind.SEAL, agency)
    name = _seal_name(agency)
    issued = _issue_for(public_key, name=name)
    key = _store_ec(
        kind=SigningKey.Kind.SEAL,
        agency=agency,
        key=None,
        issued=issued,
        subject=name,
        pkcs11_label=label,
    )
    transaction.on_commit(reset_caches)
    return key


@transaction.atomic
def tsa_create() -> tuple[SigningKey, Any]:
    """A TSA certificate for the local RFC 3161 service (tests and development)."""
    name = pki.subject_name(
        common_name=f"{settings.LIBRARY_NAME}时间戳服务",
        organization=settings.LIBRARY_NAME,
        unit="时间戳",
    )
    # RSA: the local TSA answers with pyHanko's DummyTimeStamper, which signs with RSA only.
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issued = _issue_for(key.public_key(), name=name, kind="tsa")
    _retire(SigningKey.Kind.TSA, None)
    return (
        _store_ec(kind=SigningKey.Kind.TSA, agency=None, key=key, issued=issued, subject=name),
        key,
    )


@transaction.atomic
def token_key_rotate() -> SigningKey:
    """A new token key in the configured suite, endorsed by the CA; the old one stays published
    in the trust list, so printed QR codes keep verifying until they expire."""
    suite = get_suite(settings.CRYPTO_SUITE)
    ca = _require_ca()
    key = suite.generate_key()
    public = suite.public_key_of(key)
    kid = suite.key_id(public)
    public_pem = suite.public_key_to_pem(public).decode()
    endorsement = sign_token(
        suite=get_suite("intl"),
        key=private_key(ca),
        kid=ca.key_id,
        claims={
            "typ": "token-key",
            "lib": settings.LIBRARY_CODE,
            "kid": kid,
            "alg": suite.token_alg,
            "pub": public_pem,
            "iat": int(timezone.now().timestamp()),
        },
    )
    _retire(SigningKey.Kind.TOKEN, None)
    if SigningKey.objects.filter(key_id=kid).exists():  # astronomically unlikely
        raise ConflictError("pki.key_exists", "密钥标识冲突，请重试")
    return SigningKey.objects.create(
        kind=SigningKey.Kind.TOKEN,
        agency=None,
        suite=suite.name,
        key_id=kid,
        subject=f"{settings.LIBRARY_NAME} 二维码与信任列表签名密钥",
        public_key_pem=public_pem,
        private_key_pem=suite.private_key_to_pem(key, _password()).decode(),
        endorsement=endorsement,
        not_before=timezone.now(),
        not_after=timezone.now() + timedelta(days=CA_DAYS),
    )


# --- SM2 keys for the OFD e-seals (GB/T 38540) -------------------------------------------
#
# A second, SM2 certificate hierarchy beside the ECDSA one (PDF readers need ECDSA; GB/T 38540
# needs SM2): one SM2 CA per library, created by `pki init` (the hub's is the provincial one in
# development), and one SM2 seal key + certificate per issuing agency, created on first use and
# rotated like the ECDSA seals. The SM2 CA is also the seal maker (制章者): it signs the
# `SESeal` that binds the agency's name, seal picture and certificate; the agency's key signs
# each OFD. Verifiers get the SM2 CA from the signed trust list (`sm2_ca`).


def sm2_ca_active() -> SigningKey | None:
    return SigningKey.objects.filter(kind=SigningKey.Kind.SM2_CA, active=True).first()


def sm2_trust_roots() -> list[bytes]:
    """DER certificates of every SM2 CA this library ever ran (rotated ones included)."""
    return [
        sm2x509.certificate_der_from_pem(k.certificate_pem)
        for k in SigningKey.objects.filter(kind=SigningKey.Kind.SM2_CA)
    ]


def _require_sm2_ca() -> SigningKey:
    ca = sm2_ca_active()
    if ca is not None:
        return ca
    if not settings.FILES_PKI_AUTO_INIT:
        raise PermanentError(
            "pki.not_initialised", "尚未初始化 SM2 证书体系，请运行 manage.py <tier> pki init"
        )
    logger.warning("pki: no SM2 CA yet, creating a development one (run `pki init` explicitly)")
    return _sm2_ca_create(ca_days=CA_DAYS)


def _store_sm2(
    *, kind: str, agency: Agency | None, key: Any, cert: sm2x509.Sm2Certificate, seal: bytes = b""
) -> SigningKey:
    gm = get_suite("gm")
    return SigningKey.objects.create(
        kind=kind,
        agency=agency,
        suite="gm",
        key_id=cert.fingerprint[:32],
        subject=cert.subject,
        serial_hex=cert.serial_hex,
        certificate_pem=cert.pem,
        public_key_pem=gm.public_key_to_pem(cert.public_key).decode(),
        private_key_pem=gm.private_key_to_pem(key, _password()).decode(),
        endorsement=base64.b64encode(seal).decode("ascii") if seal else "",
        not_before=cert.not_before,
        not_after=cert.not_after,
    )


@transaction.atomic
def _sm2_ca_create(*, ca_days: int) -> SigningKey:
    key = get_suite("gm").generate_key()
    name = sm2x509.sm2_name(
        common_name=f"河南省电子证照SM2根CA（{settings.LIBRARY_CODE}）",
        organization=settings.LIBRARY_NAME,
        unit="电子证照证书体系",
    )
    cert = sm2x509.sm2_ca_create(key=key, name=name, days=ca_days, now=timezone.now())
    try:
        with transaction.atomic():
            return _store_sm2(kind=SigningKey.Kind.SM2_CA, agency=None, key=key, cert=cert)
    except IntegrityError:
        existing = sm2_ca_active()
        if existing is None:
            raise
        return existing


def sm2_seal_for(*, agency: Agency | None) -> SigningKey:
    """The active SM2 seal of `agency` (None: the library's own), created on first use."""
    key = SigningKey.objects.filter(
        kind=SigningKey.Kind.SM2_SEAL, agency=agency, active=True
    ).first()
    return key if key is not None else sm2_seal_create(agency=agency)


@transaction.atomic
def sm2_seal_create(*, agency: Agency | None) -> SigningKey:
    """A new SM2 seal key, its certificate from the SM2 CA, and the `SESeal` the CA makes."""
    ca = _require_sm2_ca()
    ca_key = private_key(ca)
    ca_der = sm2x509.certificate_der_from_pem(ca.certificate_pem)
    seal_name = agency.name if agency else settings.LIBRARY_NAME
    name = sm2x509.sm2_name(
        common_name=seal_name,
        organization=seal_name,
        serial_number=agency.code if agency else settings.LIBRARY_CODE,
        unit="" if agency else "电子证照库",
    )
    key = get_suite("gm").generate_key()
    now = timezone.now()
    cert = sm2x509.sm2_certificate_issue(
        ca_key=ca_key, ca_der=ca_der, public_key=key.public, name=name, days=SEAL_DAYS, now=now
    )
    seal = ses.seal_make(
        ses.SealSpec(
            es_id=f"{agency.code if agency else settings.LIBRARY_CODE}-{cert.serial_hex[:16]}",
            name=f"{seal_name}{SEAL_CAPTION}",
            signer_certificates=[cert.der],
            picture_png=seal_png(seal_name, SEAL_CAPTION, font_path()),
            width_mm=OFD_SEAL_MM,
            height_mm=OFD_SEAL_MM,
            valid_start=cert.not_before,
            valid_end=cert.not_after,
            created=now,
        ),
        maker_key=ca_key,
        maker_cert=ca_der,
    )
    try:
        with transaction.atomic():
            return _store_sm2(
                kind=SigningKey.Kind.SM2_SEAL, agency=agency, key=key, cert=cert, seal=seal
            )
    except IntegrityError:
        existing = SigningKey.objects.filter(
            kind=SigningKey.Kind.SM2_SEAL, agency=agency, active=True
        ).first()
        if existing is None:
            raise
        return existing


@transaction.atomic
def sm2_seal_rotate(*, agency: Agency | None) -> SigningKey:
    """Retire the active SM2 seal and make a new one; OFDs sealed with the old one still verify
    (its certificate chains to the SM2 CA and was valid when they were signed)."""
    _retire(SigningKey.Kind.SM2_SEAL, agency)
    return sm2_seal_create(agency=agency)


def ofd_signer(key: SigningKey) -> OfdSigner:
    return OfdSigner(
        key=private_key(key),
        certificate=sm2x509.certificate_der_from_pem(key.certificate_pem),
        seal=base64.b64decode(key.endorsement),
        provider=settings.LIBRARY_NAME,
    )
