"""``ofd_verify``: an OFD package's first signature checked, answered as a ``FileCheck``."""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET  # noqa: N817

from shared.crypto import _sm2
from shared.crypto.ofd.model import _Q, MAX_ENTRIES, MAX_UNCOMPRESSED, SIGNS_DIR
from shared.crypto.pdfverify import FileCheck
from shared.crypto.ses import SES_VERSION, SM2_WITH_SM3, SM3_OID, SES_Signature, seal_verify, sm3
from shared.crypto.sm2x509 import sm2_certificate_load, sm2_certificate_verify


class _Fail(Exception):
    def __init__(self, code: int, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.detail = detail


def is_ofd(data: bytes) -> bool:
    """Whether ``data`` looks like an OFD package (a ZIP with OFD.xml), without verifying it."""
    if not data.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "OFD.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def _parse(data: bytes, name: str) -> ET.Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _Fail(2, "damaged", f"{name}: DTD not allowed")
    try:
        return ET.fromstring(data)  # noqa: S314 - no DTD (checked above), so no entity tricks
    except ET.ParseError as exc:
        raise _Fail(2, "damaged", f"{name}: {exc}") from None


def _read_all(data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _Fail(2, "not_ofd") from None
    with archive:
        entries = [e for e in archive.infolist() if not e.is_dir()]
        if len(entries) > MAX_ENTRIES or sum(e.file_size for e in entries) > MAX_UNCOMPRESSED:
            raise _Fail(2, "damaged", "package too large")
        files: dict[str, bytes] = {}
        for entry in entries:
            try:
                files[entry.filename] = archive.read(entry)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
                raise _Fail(2, "damaged", f"{entry.filename}: {exc}") from None
    if "OFD.xml" not in files:
        raise _Fail(2, "not_ofd")
    return files


def _path(ref: str) -> str:
    return ref.strip().lstrip("/")


def _find_text(element: ET.Element, path: str) -> str:
    found = element.find(path)
    return (found.text or "").strip() if found is not None else ""


def ofd_verify(
    data: bytes, *, trust_roots: Sequence[bytes], now: dt.datetime | None = None
) -> FileCheck:
    """Verify the first signature of an OFD package against DER SM2 root certificates."""
    metadata: dict[str, str] = {}
    try:
        files = _read_all(data)
        ofd = _parse(files["OFD.xml"], "OFD.xml")
        body = ofd.find(_Q + "DocBody")
        if body is None:
            raise _Fail(2, "damaged", "no DocBody")
        for custom in body.iter(_Q + "CustomData"):
            metadata[custom.get("Name", "")] = (custom.text or "").strip()
        signatures_ref = _find_text(body, _Q + "Signatures")
        if not signatures_ref or _path(signatures_ref) not in files:
            raise _Fail(1, "unsigned")
        signatures = _parse(files[_path(signatures_ref)], signatures_ref)
        first = signatures.find(_Q + "Signature")
        if first is None or _path(first.get("BaseLoc", "")) not in files:
            raise _Fail(1, "unsigned")
        signature_name = _path(first.get("BaseLoc", ""))
        signature_xml = files[signature_name]
        signature = _parse(signature_xml, signature_name)
        signed_info = signature.find(_Q + "SignedInfo")
        value_ref = _path(_find_text(signature, _Q + "SignedValue"))
        if signed_info is None or value_ref not in files:
            raise _Fail(1, "unsigned")
        result = _check(files, signed_info, signature_xml, files[value_ref], trust_roots, now)
    except _Fail as fail:
        return FileCheck(
            code=fail.code,
            reason=fail.reason,
            identifier=metadata.get("identifier", "") if fail.code == 1 else "",
            metadata={**metadata, "detail": fail.detail} if fail.detail else metadata,
        )
    signer, fingerprint, signing_time = result
    return FileCheck(
        code=0,
        reason="ok",
        identifier=metadata.get("identifier", ""),
        metadata=metadata,
        signer=signer,
        signer_fingerprint=fingerprint,
        signing_time=signing_time,
        signatures=1,
    )


def _check(
    files: dict[str, bytes],
    signed_info: ET.Element,
    signature_xml: bytes,
    signed_value: bytes,
    trust_roots: Sequence[bytes],
    now: dt.datetime | None,
) -> tuple[str, str, dt.datetime]:
    _check_references(files, signed_info)
    ses = _load_ses(signed_value)
    # 2. The SES_Signature: version, dataHash, the signer's SM2 signature.
    if ses.version != SES_VERSION:
        raise _Fail(1, "bad_signature_value", f"version {ses.version}")
    if ses.data_hash != sm3(signature_xml):
        raise _Fail(1, "altered", "dataHash is not SM3(Signature.xml)")
    if ses.algorithm != SM2_WITH_SM3:
        raise _Fail(1, "unsupported_algorithm")
    try:
        signer = sm2_certificate_load(ses.signer_der)
        maker = sm2_certificate_load(ses.maker_der)
    except ValueError:
        raise _Fail(1, "bad_certificate") from None
    if not _sm2.verify(signer.public_key, ses.signature_value, ses.tbs_der):
        raise _Fail(1, "bad_signature")

    # 3. The seal: its maker's signature, the signer is one of its certificates, its validity.
    if not seal_verify(ses.seal, maker.public_key):
        raise _Fail(1, "bad_seal")
    if ses.signer_der not in ses.seal_certs:
        raise _Fail(1, "seal_signer_mismatch")
    if not ses.valid_start <= ses.signing_time <= ses.valid_end:
        raise _Fail(1, "seal_expired")

    # 4. Both certificates chain to a trusted SM2 root (valid when the file was signed).
    signing_time = ses.signing_time
    for cert in (signer, maker):
        if not any(sm2_certificate_verify(cert.der, root, at=signing_time) for root in trust_roots):
            raise _Fail(1, "untrusted", cert.subject)
    if now is not None and signing_time > now + dt.timedelta(minutes=10):
        raise _Fail(1, "bad_signature_value", "signed in the future")
    return signer.common_name or signer.subject, signer.fingerprint, signing_time


def _check_references(files: dict[str, bytes], signed_info: ET.Element) -> None:
    # 1. Every file but the signature files is referenced, and every digest matches.
    if _find_text(signed_info, _Q + "SignatureMethod") != SM2_WITH_SM3:
        raise _Fail(1, "unsupported_algorithm")
    references = signed_info.find(_Q + "References")
    if references is None or references.get("CheckMethod") != SM3_OID:
        raise _Fail(1, "unsupported_algorithm")
    referenced: set[str] = set()
    for reference in references.findall(_Q + "Reference"):
        name = _path(reference.get("FileRef", ""))
        if name not in files:
            raise _Fail(1, "altered", f"missing {name}")
        try:
            expected = base64.b64decode(_find_text(reference, _Q + "CheckValue"), validate=True)
        except ValueError:
            raise _Fail(1, "altered", f"bad digest of {name}") from None
        if sm3(files[name]) != expected:
            raise _Fail(1, "altered", f"digest mismatch: {name}")
        referenced.add(name)
    unreferenced = sorted(n for n in files if n not in referenced and not n.startswith(SIGNS_DIR))
    if unreferenced:
        raise _Fail(1, "altered", f"not covered: {', '.join(unreferenced)}")


@dataclass(frozen=True, slots=True)
class _Ses:
    """The fields of a parsed SES_Signature that the checks use."""

    version: Any
    data_hash: bytes
    signing_time: dt.datetime
    seal: Any  # the SESeal (asn1crypto), for seal_verify
    signer_der: bytes
    algorithm: str
    signature_value: bytes
    tbs_der: bytes
    seal_certs: list[bytes]
    valid_start: dt.datetime
    valid_end: dt.datetime
    maker_der: bytes


def _load_ses(signed_value: bytes) -> _Ses:
    """SignedValue.dat parsed (strict DER); any failure is ``bad_signature_value``."""
    try:
        ses = SES_Signature.load(signed_value, strict=True)
        tbs = ses["toSign"]
        seal = tbs["eseal"]
        seal_property = seal["eSealInfo"]["property"]
        return _Ses(
            version=tbs["version"].native,
            data_hash=bytes(tbs["dataHash"].native),
            signing_time=tbs["timeInfo"].native,
            seal=seal,
            signer_der=bytes(ses["cert"].native),
            algorithm=ses["signatureAlgID"].dotted,
            signature_value=bytes(ses["signature"].native),
            tbs_der=tbs.dump(),
            seal_certs=[bytes(c.native) for c in seal_property["certList"]],
            valid_start=seal_property["validStart"].native,
            valid_end=seal_property["validEnd"].native,
            maker_der=bytes(seal["cert"].native),
        )
    except Exception as exc:  # noqa: BLE001 - asn1crypto raises many types on garbage
        raise _Fail(1, "bad_signature_value", str(exc)[:200]) from None
