"""X.509 certificates with SM2 keys signed SM2-with-SM3 (GM/T 0015), for the OFD e-seals.

Pure (no Django). ``cryptography`` knows no SM2 curve and ``tongsuopy`` has no certificate
builder, so the TBSCertificate is assembled with ``asn1crypto`` and signed with
``shared.crypto._sm2`` (SM3 over Z ‖ TBS, default user ID ``1234567812345678``).

- ``sm2_ca_create`` makes a self-signed SM2 root (CA:TRUE, pathlen 0, keyCertSign + cRLSign).
- ``sm2_certificate_issue`` makes an end-entity seal certificate (digitalSignature +
  nonRepudiation) for an SM2 public key, signed by the SM2 CA.
- ``sm2_certificate_verify`` checks that a certificate was signed by a given issuer certificate
  (names and SM2 signature) and is valid at a given time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from asn1crypto import keys, pem, x509

from shared.crypto import _sm2
from shared.crypto._sm2 import Sm2PrivateKey, Sm2PublicKey

__all__ = [
    "SM2_WITH_SM3",
    "Sm2Certificate",
    "certificate_der_from_pem",
    "certificate_pem_from_der",
    "sm2_ca_create",
    "sm2_certificate_issue",
    "sm2_certificate_load",
    "sm2_certificate_verify",
    "sm2_name",
]

SM2_WITH_SM3 = "1.2.156.10197.1.501"
_BACKDATE = dt.timedelta(minutes=10)


@dataclass(frozen=True, slots=True, kw_only=True)
class Sm2Certificate:
    der: bytes
    pem: str
    subject: str  # human-friendly subject
    common_name: str
    serial_hex: str
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    not_before: dt.datetime
    not_after: dt.datetime
    public_key: Sm2PublicKey


def sm2_name(
    *, common_name: str, organization: str, serial_number: str = "", unit: str = ""
) -> x509.Name:
    values: dict[str, str] = {
        "country_name": "CN",
        "state_or_province_name": "河南省",
        "organization_name": organization,
    }
    if unit:
        values["organizational_unit_name"] = unit
    if serial_number:
        values["serial_number"] = serial_number
    values["common_name"] = common_name
    return x509.Name.build(values, use_printable=False)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}
    )


def _build(
    *,
    issuer_key: Sm2PrivateKey,
    issuer: x509.Name,
    subject: x509.Name,
    public_key: Sm2PublicKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    ca: bool,
) -> bytes:
    spki = keys.PublicKeyInfo.load(_sm2.public_to_der(public_key))
    basic = x509.BasicConstraints({"ca": True, "path_len_constraint": 0} if ca else {"ca": False})
    tbs = x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": int.from_bytes(secrets.token_bytes(16), "big") >> 1,
            "signature": {"algorithm": SM2_WITH_SM3},
            "issuer": issuer,
            "validity": {
                "not_before": x509.Time({"utc_time": not_before}),
                "not_after": x509.Time({"utc_time": not_after}),
            },
            "subject": subject,
            "subject_public_key_info": spki,
            "extensions": [
                {"extn_id": "basic_constraints", "critical": True, "extn_value": basic},
                {"extn_id": "key_usage", "critical": True, "extn_value": _key_usage(ca=ca)},
                {
                    "extn_id": "key_identifier",
                    "critical": False,
                    "extn_value": hashlib.sha1(public_key.point).digest(),  # noqa: S324 - RFC 5280 §4.2.1.2 method 1
                },
            ],
        }
    )
    signature = _sm2.sign(issuer_key, tbs.dump())
    cert = x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": {"algorithm": SM2_WITH_SM3},
            "signature_value": signature,
        }
    )
    der: bytes = cert.dump()
    return der


def sm2_certificate_load(der: bytes) -> Sm2Certificate:
    """Parse a DER certificate with an SM2 key; ``ValueError`` for anything else."""
    try:
        cert = x509.Certificate.load(bytes(der), strict=True)
        tbs = cert["tbs_certificate"]
        public = _sm2.public_from_der(tbs["subject_public_key_info"].dump())
        validity = tbs["validity"]
        subject = tbs["subject"]
        common = subject.native.get("common_name", "")
        return Sm2Certificate(
            der=bytes(der),
            pem=certificate_pem_from_der(bytes(der)),
            subject=subject.human_friendly,
            common_name=common if isinstance(common, str) else "",
            serial_hex=f"{tbs['serial_number'].native:x}",
            fingerprint=hashlib.sha256(der).hexdigest(),
            not_before=validity["not_before"].native,
            not_after=validity["not_after"].native,
            public_key=public,
        )
    except ValueError:
        raise
    except Exception as exc:  # asn1crypto raises TypeError, KeyError, … on garbage
        raise ValueError("not an SM2 certificate") from exc


def sm2_ca_create(
    *, key: Sm2PrivateKey, name: x509.Name, days: int, now: dt.datetime
) -> Sm2Certificate:
    der = _build(
        issuer_key=key,
        issuer=name,
        subject=name,
        public_key=key.public,
        not_before=now - _BACKDATE,
        not_after=now + dt.timedelta(days=days),
        ca=True,
    )
    return sm2_certificate_load(der)


def sm2_certificate_issue(
    *,
    ca_key: Sm2PrivateKey,
    ca_der: bytes,
    public_key: Sm2PublicKey,
    name: x509.Name,
    days: int,
    now: dt.datetime,
) -> Sm2Certificate:
    ca = x509.Certificate.load(ca_der)
    ca_not_after = ca["tbs_certificate"]["validity"]["not_after"].native
    der = _build(
        issuer_key=ca_key,
        issuer=ca["tbs_certificate"]["subject"],
        subject=name,
        public_key=public_key,
        not_before=now - _BACKDATE,
        not_after=min(now + dt.timedelta(days=days), ca_not_after),
        ca=False,
    )
    return sm2_certificate_load(der)


def sm2_certificate_verify(der: bytes, issuer_der: bytes, *, at: dt.datetime | None) -> bool:
    """Whether ``der`` names ``issuer_der``'s subject as issuer, carries its SM2 signature over
    the TBSCertificate, and (with ``at``) is within its validity."""
    try:
        cert = x509.Certificate.load(bytes(der))
        issuer = x509.Certificate.load(bytes(issuer_der))
        if cert["signature_algorithm"]["algorithm"].dotted != SM2_WITH_SM3:
            return False
        if cert["tbs_certificate"]["issuer"] != issuer["tbs_certificate"]["subject"]:
            return False
        issuer_key = _sm2.public_from_der(
            issuer["tbs_certificate"]["subject_public_key_info"].dump()
        )
        signature = bytes(cert["signature_value"].native)
        if not _sm2.verify(issuer_key, signature, cert["tbs_certificate"].dump()):
            return False
        if at is not None:
            validity = cert["tbs_certificate"]["validity"]
            if not validity["not_before"].native <= at <= validity["not_after"].native:
                return False
    except Exception:  # noqa: BLE001 - unparsable input is an ordinary "no"
        return False
    return True


def certificate_pem_from_der(der: bytes) -> str:
    armored: bytes = pem.armor("CERTIFICATE", der)
    return armored.decode("ascii")


def certificate_der_from_pem(text: str | bytes) -> bytes:
    data = text.encode("ascii") if isinstance(text, str) else text
    _kind, _headers, der = pem.unarmor(data)
    return bytes(der)
