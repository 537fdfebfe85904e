"""X.509 for the electronic seals: the provincial CA, seal certificates and TSA certificates.

Pure (no Django). PDF seals are ECDSA P-256 / SHA-256 so that any PDF reader verifies them
(DESIGN §5); the QR tokens and the trust list use the configured suite (``shared.crypto.suites``).

Contract:
- ``ca_create`` makes a self-signed root (CA:TRUE, pathlen 0, keyCertSign + cRLSign).
- ``certificate_issue`` makes an end-entity certificate signed by the CA for a given public key
  (the key may live in memory or in an HSM: only its public half is needed here). Seal
  certificates carry digitalSignature + nonRepudiation and no EKU (NSS, hence ``pdfsig``, then
  accepts them for document signing); TSA certificates carry the critical timeStamping EKU
  (RFC 3161 §2.3).
- Keys at rest are PKCS#8 PEM encrypted with PBES2 (``key_to_encrypted_pem``); the password
  comes from the deployment (see ``shared.files.keystore``).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CertificateKind",
    "IssuedCertificate",
    "ca_create",
    "certificate_fingerprint",
    "certificate_from_pem",
    "certificate_issue",
    "certificate_to_pem",
    "generate_p256",
    "key_from_encrypted_pem",
    "key_to_encrypted_pem",
    "subject_name",
]

CertificateKind = str  # "seal" | "tsa"
_BACKDATE = dt.timedelta(minutes=10)  # tolerate clock skew between signer and verifier


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedCertificate:
    certificate: x509.Certificate
    pem: str
    serial_hex: str
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    not_before: dt.datetime
    not_after: dt.datetime


def generate_p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def subject_name(
    *, common_name: str, organization: str, serial_number: str = "", unit: str = ""
) -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "河南省"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ]
    if unit:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    if serial_number:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _issued(cert: x509.Certificate) -> IssuedCertificate:
    return IssuedCertificate(
        certificate=cert,
        pem=certificate_to_pem(cert),
        serial_hex=f"{cert.serial_number:x}",
        fingerprint=certificate_fingerprint(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def ca_create(
    *, key: ec.EllipticCurvePrivateKey, name: x509.Name, days: int, now: dt.datetime
) -> IssuedCertificate:
    """A self-signed root certificate for ``key``."""
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _issued(cert)


def certificate_issue(
    *,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    name: x509.Name,
    days: int,
    now: dt.datetime,
    kind: CertificateKind = "seal",
) -> IssuedCertificate:
    """An end-entity certificate for ``public_key`` signed by the CA (``kind`` seal or tsa)."""
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        # 128 random bits: serials must be unpredictable and unique per CA (CA/B BR 7.1).
        .serial_number(int.from_bytes(secrets.token_bytes(16), "big") >> 1)
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if kind == "tsa":
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    return _issued(builder.sign(ca_key, hashes.SHA256()))


def certificate_to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_from_pem(pem: str | bytes) -> x509.Certificate:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    return x509.load_pem_x509_certificate(data)


def certificate_fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def key_to_encrypted_pem(key: ec.EllipticCurvePrivateKey, password: bytes) -> str:
    """PKCS#8 PEM, PBES2-encrypted (the best the library offers) with ``password``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    ).decode("ascii")


def key_from_encrypted_pem(pem: str, password: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TypeError("seal keys are ECDSA P-256")
    return key
