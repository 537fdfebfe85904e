"""Verification against other libraries (issue #13, item 1), split from `verification`:
a token signed by another library's key (from the provincial trust list), another library's
licence answered from its signed status list, and seal revocations applied to a file check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.utils import timezone

from shared.crypto.pdfverify import FileCheck
from shared.crypto.suites import PublicKey
from shared.crypto.tokens import (
    TokenError,
    VerifiedToken,
    is_qr_token,
    verify_qr_token,
    verify_token,
)
from shared.files import trust


def remote_outcome(claims: dict[str, Any], library: str) -> str:
    lib = trust.province().libraries.get(library)
    index, issuer = claims.get("sli"), claims.get("iss")
    if lib is None or not isinstance(index, int) or not isinstance(issuer, str):
        return "status_unknown"
    return trust.foreign_status(lib=lib, issuer_code=issuer, index=index) or "status_unknown"


def verify_with(
    token: str,
    *,
    now: datetime | None,
    qr: Callable[[str, str], list[PublicKey]],
    jws: Callable[[str, str], PublicKey | None],
) -> VerifiedToken:
    if is_qr_token(token):
        return verify_qr_token(token, resolve_keys=qr, now=now)
    return verify_token(token, resolve_key=jws, now=now)


def verify_foreign(token: str, *, now: datetime | None) -> tuple[VerifiedToken, str]:
    error = TokenError("token.unknown_key")
    for lib in trust.foreign_libraries():
        try:
            verified = verify_with(
                token,
                now=now,
                qr=lambda alg, prefix, lib=lib: trust.keys_with_prefix(lib, alg, prefix),  # type: ignore[misc]
                jws=lambda alg, kid, lib=lib: lib.token_keys.get(kid),  # type: ignore[misc]
            )
        except TokenError as exc:
            if exc.code != "token.unknown_key":
                error = exc  # a known key that does not verify: keep looking, report this
            continue
        return verified, lib.code
    raise error


SEAL_REVOKED_MESSAGE = "电子印章证书已于 {at} 吊销（{reason}），该文件签章时间不早于吊销时间"
SEALED_BEFORE_REVOCATION = "电子印章证书已于 {at} 吊销（{reason}）；该文件签章早于吊销，仍然有效"


def revocation_applied(check: FileCheck) -> FileCheck:
    if check.code != 0:
        return check
    revocation = trust.seal_revocation(check.signer_fingerprint)
    if revocation is None:
        return check
    at = timezone.localtime(revocation.revoked_at).strftime("%Y-%m-%d %H:%M:%S")
    facts = {
        "seal_revoked_at": revocation.revoked_at.isoformat(),
        "seal_revocation_reason": revocation.reason,
    }
    # Without a trusted timestamp the signing time is what the signer stated: a file of
    # unknown time counts as sealed after the revocation.
    if check.signing_time is None or check.signing_time >= revocation.revoked_at:
        note = SEAL_REVOKED_MESSAGE.format(at=at, reason=revocation.reason)
        return replace(
            check,
            code=1,
            reason="seal_revoked",
            metadata={**check.metadata, **facts, "seal_note": note},
        )
    note = SEALED_BEFORE_REVOCATION.format(at=at, reason=revocation.reason)
    return replace(check, metadata={**check.metadata, **facts, "seal_note": note})
