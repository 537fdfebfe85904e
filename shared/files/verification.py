"""Reads for verification (GB/T 36906 practice): QR tokens, info codes, files, the trust list.

Info codes (DESIGN §8): 0 信息正确且有效, 1 信息正确且未激活, 2 信息正确且证照暂时失效,
3 信息正确且证照已失效, 4 信息不全，无法验证, 5 查无此信息, 6 信息错误，参数不一致.
A forged QR token answers 6 and an expired one 4: never 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.core.holder_codes import holder_code_digests
from shared.crypto.ofd import is_ofd, ofd_verify
from shared.crypto.pdfverify import FileCheck, verify_pdf
from shared.crypto.pki import certificate_from_pem
from shared.crypto.suites import PublicKey, public_key_from_pem
from shared.crypto.tokens import (
    TOKEN_ALGORITHMS,
    TokenError,
    VerifiedToken,
    is_qr_token,
    token_from_text,
)
from shared.domain.errors import DomainError
from shared.domain.identifiers import parse_identifier
from shared.domain.status import STATUS_LABELS, UNRELEASED, Status
from shared.files import keystore, trust, verify_cache
from shared.files.models import SigningKey
from shared.files.own_trust_list import trust_list_build  # noqa: F401 - callers import it here
from shared.files.remote_verification import (
    remote_outcome,
    revocation_applied,
    verify_foreign,
    verify_with,
)
from shared.licenses import lookups
from shared.licenses.models import License, LicenseVersion

INFO_MESSAGES = {
    0: "信息正确且有效",
    1: "信息正确且未激活",
    2: "信息正确且证照暂时失效",
    3: "信息正确且证照已失效",
    4: "信息不全，无法验证",
    5: "查无此信息",
    6: "信息错误，参数不一致",
}

OUTCOME_LABELS = {
    "valid": "有效",
    "pending": "未生效",
    "suspended": "暂扣（暂时失效）",
    "revoked": "已吊销",
    "annulled": "已撤销",
    "cancelled": "已注销",
    "expired": "有效期已届满",
    "superseded": "已被新版本替代",
    "qr_expired": "二维码已过期",
    "forged": "二维码无效（伪造或被篡改）",
    "not_found": "查无此证照",
    # Another library's licence, its status read from that library's signed status list.
    "ended": "已失效（吊销、撤销或注销）",
    "status_unknown": "状态暂不可确认",
}
OUTCOME_CODES = {
    "valid": 0,
    "pending": 1,
    "suspended": 2,
    "revoked": 3,
    "annulled": 3,
    "cancelled": 3,
    "expired": 3,
    "superseded": 3,
    "qr_expired": 4,
    "forged": 6,
    "not_found": 5,
    "ended": 3,
    "status_unknown": 4,
}


def info_result(code: int) -> dict[str, Any]:
    return {"code": code, "message": INFO_MESSAGES[code]}


def version_lookup(identifier: str) -> LicenseVersion | None:
    try:
        parse_identifier(identifier)
    except DomainError:
        return None
    return (
        LicenseVersion.objects.select_related("license__license_type", "license__issuer")
        .filter(**lookups.version_terms(identifier, joined=True))
        .first()
    )


def version_outcome(version: LicenseVersion, *, today: date | None = None) -> str:
    """What the library says about one version today: valid, suspended, superseded, …"""
    lic = version.license
    today = today or timezone.localdate()
    if version.version != lic.version:
        return "superseded"
    status = lic.status
    if status in UNRELEASED:
        return "pending"
    if status == Status.valid:
        if version.valid_from > today:
            return "pending"
        if version.valid_to is not None and version.valid_to < today:
            return "expired"  # by the clock, before the expiry sweep has run
        return "valid"
    return status


def key_fields(version: LicenseVersion) -> dict[str, Any]:
    """The licence's key fields as a verifier shows them (no holder code: it is personal)."""
    lic = version.license
    masked = version.__dict__.get("holder_code_masked")  # a remembered version has it
    if masked is None:
        masked = verify_cache.holder_code_mask(version.holder_code)
    return {
        "identifier": version.identifier,
        "version": version.version,
        "type_code": lic.license_type.type_code,
        "type_name": lic.license_type.name,
        "number": version.number,
        "holder_name": version.holder_name,
        "holder_code_masked": masked,
        "issuer_code": lic.issuer.code,
        "issuer_name": lic.issuer.name,
        "issue_date": version.issue_date.isoformat(),
        "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to else None,
        "status": lic.status,
        "status_label": STATUS_LABELS[Status(lic.status)],
        "current_identifier": lic.identifier,
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenCheck:
    outcome: str
    version: LicenseVersion | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    token_error: str = ""
    # The library whose token key signed it (this one, or another from the provincial list).
    library: str = ""

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self.outcome]

    @property
    def info_code(self) -> int:
        return OUTCOME_CODES[self.outcome]

    def as_dict(self) -> dict[str, Any]:
        expires = self.claims.get("exp")
        return {
            "outcome": self.outcome,
            "label": self.label,
            "info_result": info_result(self.info_code),
            "license": key_fields(self.version)
            if self.version is not None and self.outcome not in ("forged", "qr_expired")
            else None,
            "qr_expires_at": datetime.fromtimestamp(
                expires, tz=timezone.get_current_timezone()
            ).isoformat()
            if isinstance(expires, int) and self.outcome != "forged"
            else None,
            "token_error": self.token_error,
            "signed_by_library": self.library if self.outcome != "forged" else "",
            # Another library's licence this library does not hold: what the signed token says,
            # with the status from that library's status list.
            "remote": {
                "identifier": self.claims.get("id"),
                "version": self.claims.get("ver"),
                "issuer_code": self.claims.get("iss"),
                "library": self.library,
                "status_source": "status_list",
            }
            if self.version is None
            and self.outcome in ("valid", "suspended", "ended", "status_unknown")
            else None,
        }


def token_check(token: str, *, now: datetime | None = None) -> TokenCheck:
    """Verify a QR token: signature (forged), window (qr_expired), then the library's state.

    Takes the compact QR token, a verify URL holding one, or a JWS token of the former QR
    format: codes printed before the compact form keep verifying until they expire.
    A token signed by another library's key (from the provincial trust list) is that library's:
    a licence this library holds must belong to it, and one it does not hold is answered from
    that library's signed status list, or "status_unknown" when the list cannot be had.
    """
    now = now or timezone.now()
    token = token_from_text(token) if isinstance(token, str) else token
    try:
        verified, library = _token_verify(token, now=now)
    except TokenError as exc:
        if exc.code == "token.expired":
            return TokenCheck(outcome="qr_expired", token_error=exc.code, claims=_claims(token))
        return TokenCheck(outcome="forged", token_error=exc.code)
    claims = verified.claims
    identifier = claims.get("id")
    version = (
        verify_cache.version_current(identifier, load=version_lookup)
        if isinstance(identifier, str)
        else None
    )
    local = library == settings.LIBRARY_CODE
    if version is None:
        if local:
            return TokenCheck(outcome="not_found", claims=claims, library=library)
        return TokenCheck(outcome=remote_outcome(claims, library), claims=claims, library=library)
    if claims.get("ver") != version.version or claims.get("iss") != version.license.issuer.code:
        return TokenCheck(outcome="forged", token_error="token.claims_mismatch")
    if not local and version.license.library_code != library:
        # Another library's key over a licence it does not own: a forgery by that library.
        return TokenCheck(outcome="forged", token_error="token.not_owner")
    return TokenCheck(
        outcome=version_outcome(version), version=version, claims=claims, library=library
    )


def _token_verify(token: str, *, now: datetime | None) -> tuple[VerifiedToken, str]:
    """The verified token and the library whose key signed it: this library's keys first,
    then each other library's from the provincial list, one library at a time (so a key id
    prefix another library copied cannot borrow its name); an unknown key id refreshes the
    list once (rate-limited) and tries again."""
    try:
        if now is None or not is_qr_token(token):  # the former JWS form: not remembered
            return verify_with(
                token, now=now, qr=_token_keys_cached, jws=keystore.token_public_key
            ), settings.LIBRARY_CODE
        return verify_cache.token_verified(
            token,
            now=now.timestamp(),
            verify=lambda: verify_with(
                token, now=None, qr=_token_keys_cached, jws=keystore.token_public_key
            ),
        ), settings.LIBRARY_CODE
    except TokenError as exc:
        if exc.code != "token.unknown_key":
            raise
    try:
        return verify_foreign(token, now=now)
    except TokenError as exc:
        if exc.code != "token.unknown_key" or not trust.trust_refresh_on_demand():
            raise
    return verify_foreign(token, now=now)


def _token_keys_by_prefix(alg: str, kid_prefix: str) -> list[PublicKey]:
    """Token keys (rotated ones included) whose key id starts with a QR token's short kid."""
    rows = SigningKey.objects.filter(
        kind=SigningKey.Kind.TOKEN,
        suite=TOKEN_ALGORITHMS.get(alg, ""),
        key_id__startswith=kid_prefix,
    ).order_by("-active", "created_at")[:4]
    return [public_key_from_pem(row.public_key_pem.encode()) for row in rows]


def _token_keys_cached(alg: str, kid_prefix: str) -> list[PublicKey]:
    return verify_cache.token_keys(alg, kid_prefix, load=_token_keys_by_prefix)


def _claims(token: str) -> dict[str, Any]:
    """Claims of a token whose signature verified but which expired (for the expiry date)."""
    try:
        return _token_verify(token, now=None)[0].claims
    except TokenError:
        return {}


COMPARABLE = ("number", "holder_name", "holder_code", "holder_code_type", "valid_from", "valid_to")


def share_target(values: dict[str, Any]) -> tuple[LicenseVersion | None, str, int | None]:
    """(version, outcome hint, early info code) for what a purpose-bound verify names: a QR
    token (or the URL carrying it), an identifier, or a type with a number or holder code."""
    token = (values.get("token") or "").strip()
    if token:
        if "/v/" in token:
            token = token.rsplit("/v/", 1)[1].split("?", 1)[0]
        check = token_check(token)
        if check.version is None:
            # forged, expired, not found, or another library's licence answered from its
            # status list (the same answer as the public verify gives)
            return None, check.outcome, check.info_code
        return check.version, check.outcome, None
    identifier = (values.get("identifier") or "").strip()
    if identifier:
        version = version_lookup(identifier)
        return version, "" if version else "not_found", None if version else 5
    type_code = (values.get("type_code") or "").strip()
    number = (values.get("number") or "").strip()
    holder_code = (values.get("holder_code") or "").strip().upper()
    if type_code and (number or holder_code):
        licences = License.objects.filter(license_type__type_code=type_code)
        if number:
            licences = licences.filter(number=number)
        if holder_code:
            licences = licences.filter(**lookups.holder_terms(holder_code_digests(holder_code)))
        lic = licences.order_by("-created_at").first()
        if lic is None:
            return None, "not_found", 5
        return version_lookup(lic.identifier), "", None
    return None, "incomplete", 4


def compare_fields(version: LicenseVersion, supplied: dict[str, Any]) -> list[str]:
    """Names of supplied fields (比对) that differ from the version; values are not echoed."""
    mismatched = []
    for name in COMPARABLE:
        if name not in supplied:
            continue
        actual = getattr(version, name)
        actual_text = actual.isoformat() if isinstance(actual, date) else (actual or "")
        given = supplied[name]
        given_text = given.isoformat() if isinstance(given, date) else (given or "")
        if str(given_text).strip() != str(actual_text):
            mismatched.append(name)
    for key, value in (supplied.get("surface") or {}).items():
        if str(version.surface.get(key, "")) != str(value):
            mismatched.append(f"surface.{key}")
    return mismatched


def trust_roots() -> list[Any]:
    """This library's CA certificates and every other library's from the provincial list."""
    return [
        certificate_from_pem(k.certificate_pem)
        for k in SigningKey.objects.filter(kind=SigningKey.Kind.CA)
    ] + trust.foreign_ca_roots()


@dataclass(frozen=True, slots=True, kw_only=True)
class FileVerification:
    check: FileCheck
    version: LicenseVersion | None
    info_code: int
    mismatched: list[str]


def file_check(data: bytes) -> FileCheck:
    """The seal check of an uploaded file: an OFD package (GB/T 38540, SM2 roots) or a PDF,
    against this library's roots and every other library's (provincial trust list); then the
    seal's revocation: a file sealed at or after it fails with the reason (`seal_revoked`), one
    sealed before still verifies and says so (`metadata["seal_note"]`)."""
    if is_ofd(data):
        check = ofd_check(
            data,
            trust_roots=keystore.sm2_trust_roots() + trust.foreign_sm2_roots(),
            now=timezone.now(),
        )
    else:
        check = verify_pdf(data, trust_roots=trust_roots())
    return revocation_applied(check)


def ofd_check(data: bytes, *, trust_roots: list[Any], now: datetime | None) -> FileCheck:
    """`ofd_verify`, with any failure to read the package (a corrupt deflate stream raises
    `zlib.error`, a damaged XML or ASN.1 structure other errors) answered as a damaged file
    (code 2) instead of escaping as a 500 or a traceback: an upload is never trusted input."""
    try:
        return ofd_verify(data, trust_roots=trust_roots, now=now)
    except Exception as exc:  # noqa: BLE001 - whatever the package does to the parser
        return FileCheck(code=2, reason="damaged", metadata={"detail": type(exc).__name__})


def file_verify(data: bytes) -> FileVerification:
    """The file outcome and, for the licence the file names, the library's info outcome
    (for a PDF or an OFD alike)."""
    check = file_check(data)
    version = version_lookup(check.identifier) if check.identifier else None
    if not check.identifier:
        return FileVerification(check=check, version=None, info_code=4, mismatched=[])
    if version is None:
        return FileVerification(check=check, version=None, info_code=5, mismatched=[])
    digest = check.metadata.get("digest", "")
    if check.code != 0 or (digest and digest != version.content_digest):
        # A file that fails its seal, or whose content is not the version's, is not "correct".
        return FileVerification(check=check, version=version, info_code=6, mismatched=["file"])
    return FileVerification(
        check=check,
        version=version,
        info_code=OUTCOME_CODES[version_outcome(version)],
        mismatched=[],
    )
