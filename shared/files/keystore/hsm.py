"""PKCS#11: a key created in an HSM never leaves it; signing goes through one session per
process, key generation through a read-write session of its own. The PKCS#11 bindings are
imported on use: only a deployment with an HSM loads them."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import Certificate
from django.conf import settings

from shared.core.errors import PermanentError
from shared.crypto.pdfsign import asn1_certificate

_session: Any = None


def pkcs11_session() -> Any:
    """One PKCS#11 session per process (opening one costs a login)."""
    global _session
    if _session is None:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import open_pkcs11_session

        if not settings.FILES_PKCS11_LIB:
            raise PermanentError("pki.pkcs11_not_configured", "未配置 PKCS#11 模块")
        _session = open_pkcs11_session(
            settings.FILES_PKCS11_LIB,
            token_criteria=TokenCriteria(label=settings.FILES_PKCS11_TOKEN),
            user_pin=settings.FILES_PKCS11_PIN,
        )
    return _session


def pkcs11_forget() -> None:
    """Drop this process's session (the next signature opens a new one)."""
    global _session
    _session = None


def pkcs11_close() -> None:
    """Close this process's session, if one is open, and drop it."""
    if _session is not None:
        _session.close()
    pkcs11_forget()


def pkcs11_signer(*, label: str, cert: Certificate, chain: list[Certificate]) -> Any:
    """A pyHanko signer for the HSM key `label`, on this process's session."""
    from pyhanko.sign.pkcs11 import PKCS11Signer

    return PKCS11Signer(
        pkcs11_session(),
        key_label=label,
        signing_cert=asn1_certificate(cert),
        ca_chain=[asn1_certificate(c) for c in chain],
        # Hash here, sign raw (CKM_ECDSA): SoftHSM2 and many HSMs lack CKM_ECDSA_SHA256.
        use_raw_mechanism=True,
    )


def pkcs11_generate_p256(label: str) -> ec.EllipticCurvePublicKey:
    """Generate a P-256 key pair stored in the HSM under `label`; returns its public key."""
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
    return public_key
