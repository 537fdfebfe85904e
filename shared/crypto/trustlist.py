"""Offline verification against a published trust list (pure: no Django).

A trust list (`/api/v1/public/trust-list`) is ``{"trust_list": {...}, "signature": {...}}``:
the document lists the library's CA certificates, seal and TSA certificates, and token keys
(each token key endorsed by the CA with an ES256 statement). The signature is a compact token,
in the library's suite, whose ``sm3`` claim is the SM3 of the document's canonical JSON.

Trust is anchored in the CA: a verifier pins the CA certificate's SHA-256 fingerprint (printed by
``pki init``, the same certificate ``pdfsig`` is given). From it: the endorsements → the token
keys → the trust-list signature and the QR tokens; X.509 chains → the PDF seals; the signed list's
``sm2_ca`` entries → the SM2 chains of the OFD e-seals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from shared.crypto import statuslist
from shared.crypto.sm2x509 import certificate_der_from_pem
from shared.crypto.suites import PublicKey, public_key_from_pem
from shared.crypto.tokens import (
    TokenError,
    VerifiedToken,
    is_qr_token,
    read_token_header,
    token_from_text,
    verify_qr_token,
    verify_token,
)
from shared.domain.canonical import canonical_json, sm3_hex

__all__ = ["TrustList", "TrustListError", "load_trust_list", "status_from_list"]


class TrustListError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustList:
    document: dict[str, Any]
    ca_certificates: list[x509.Certificate]
    token_keys: dict[str, PublicKey]
    sm2_roots: list[bytes] = field(default_factory=list)  # DER SM2 CAs of the OFD e-seals

    def resolve(self, alg: str, kid: str) -> PublicKey | None:
        return self.token_keys.get(kid)

    def verify_token(self, token: str, *, now: datetime | None) -> VerifiedToken:
        """A JWS token, or a QR token (its verify URL too) by its key id's prefix."""
        token = token_from_text(token) if isinstance(token, str) else token
        if is_qr_token(token):
            return verify_qr_token(
                token,
                resolve_keys=lambda alg, prefix: [
                    key for kid, key in self.token_keys.items() if kid.startswith(prefix)
                ],
                now=now,
            )
        return verify_token(token, resolve_key=self.resolve, now=now)


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def load_trust_list(body: Mapping[str, Any], *, ca_fingerprint: str = "") -> TrustList:
    """Check the endorsements and the signature; ``TrustListError`` when anything is off.

    With ``ca_fingerprint`` the CA must be that certificate; without it the list's own CA is
    trusted as given (trust on first use: say so to the user).
    """
    try:
        document = dict(body["trust_list"])
        signature = str(body["signature"]["token"])
        cas = [x509.load_pem_x509_certificate(c["certificate"].encode()) for c in document["ca"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise TrustListError("trust_list.malformed", "信任列表格式错误") from exc
    pinned = ca_fingerprint.lower().replace(":", "")
    if pinned and pinned not in {_fingerprint(c) for c in cas}:
        raise TrustListError("trust_list.ca_mismatch", "信任列表中的根证书与预置指纹不符")
    ca_keys = {_fingerprint(c)[:32]: c.public_key() for c in cas}
    token_keys: dict[str, PublicKey] = {}
    for entry in document.get("token_keys", []):
        try:
            endorsed = verify_token(
                entry["endorsement"],
                resolve_key=lambda alg, kid: ca_keys.get(kid),  # type: ignore[arg-type, return-value]  # verify_token refuses a key of another suite
            )
            if endorsed.claims.get("kid") != entry["kid"]:
                raise TrustListError("trust_list.endorsement", "令牌密钥的根证书背书不符")
            token_keys[entry["kid"]] = public_key_from_pem(endorsed.claims["pub"].encode())
        except (TokenError, KeyError, TypeError) as exc:
            raise TrustListError("trust_list.endorsement", "令牌密钥的根证书背书无效") from exc
    try:
        header = read_token_header(signature)
        signed = verify_token(signature, resolve_key=lambda alg, kid: token_keys.get(kid))
    except TokenError as exc:
        raise TrustListError("trust_list.signature", "信任列表签名无效") from exc
    if header["kid"] not in token_keys or signed.claims.get("sm3") != sm3_hex(
        canonical_json(document)
    ):
        raise TrustListError("trust_list.signature", "信任列表内容与签名不符")
    try:
        sm2_roots = [certificate_der_from_pem(c["certificate"]) for c in document.get("sm2_ca", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise TrustListError("trust_list.malformed", "信任列表格式错误") from exc
    return TrustList(
        document=document, ca_certificates=cas, token_keys=token_keys, sm2_roots=sm2_roots
    )


def status_from_list(credential_token: str, *, trust: TrustList, index: int) -> bool:
    """Whether bit ``index`` is set in a signed status list (verified with the trust list)."""
    verified = trust.verify_token(credential_token, now=None)
    bits = statuslist.decode(str(verified.claims["encodedList"]))
    return statuslist.is_set(bits, index)
