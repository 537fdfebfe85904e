"""Verifying a licence PDF's seal against trust roots (pure: no Django).

The three file outcomes of the sharing interface (DESIGN §8):
- 0 文件验证通过: a PAdES signature that is intact, covers the whole file, and chains to a
  trusted root; ``identifier`` is read from the (signed) document information.
- 1 文件签章校验失败: a PDF whose seal is missing, altered, untrusted or does not cover the file.
- 2 文件校验失败: not a PDF, or a PDF too damaged to read.

pyHanko's ``status.valid`` stays True on a tampered file: the decision uses ``bottom_line``,
``intact`` and the coverage level (FIELD-NOTES).
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from shared.crypto.pdfsign import asn1_certificate

__all__ = ["FILE_MESSAGES", "FileCheck", "verify_pdf"]

logger = logging.getLogger(__name__)

FILE_MESSAGES = {0: "文件验证通过", 1: "文件签章校验失败", 2: "文件校验失败"}
_KEYWORD = re.compile(r"([a-z_]+)=([^;]*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCheck:
    code: int
    reason: str  # a stable machine word: ok, not_pdf, damaged, unsigned, altered, untrusted, …
    identifier: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    signer: str = ""
    signer_fingerprint: str = ""
    signing_time: datetime | None = None
    timestamped: bool = False
    signatures: int = 0

    @property
    def message(self) -> str:
        return FILE_MESSAGES[self.code]


def _info(reader: PdfFileReader) -> dict[str, str]:
    try:
        info = reader.trailer_view.get("/Info")
        if info is None:
            return {}
        info = info.get_object()
        subject = str(info.get("/Subject", ""))
        keywords = str(info.get("/Keywords", ""))
    except Exception:  # noqa: BLE001 - damaged metadata is just absent metadata
        return {}
    data = dict(_KEYWORD.findall(keywords))
    data.setdefault("identifier", subject)
    return data


def verify_pdf(data: bytes, *, trust_roots: list[x509.Certificate]) -> FileCheck:
    """Check ``data``; never raises for bad input."""
    if not data.startswith(b"%PDF-"):
        return FileCheck(code=2, reason="not_pdf")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = list(reader.embedded_signatures)
        metadata = _info(reader)
    except Exception:  # noqa: BLE001 - any parse failure of untrusted input is "damaged"
        logger.info("verify_pdf: unreadable PDF", exc_info=True)
        return FileCheck(code=2, reason="damaged")
    identifier = metadata.get("identifier", "")
    if not signatures:
        return FileCheck(code=1, reason="unsigned", identifier=identifier, metadata=metadata)
    context = ValidationContext(
        trust_roots=[asn1_certificate(c) for c in trust_roots], allow_fetching=False
    )
    last = signatures[-1]
    try:
        status = validate_pdf_signature(last, signer_validation_context=context)
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        logger.info("verify_pdf: signature unreadable: %s", exc)
        return FileCheck(
            code=1,
            reason="bad_signature",
            identifier=identifier,
            metadata=metadata,
            signatures=len(signatures),
        )
    except Exception:  # noqa: BLE001 - untrusted input: never a 500
        logger.info("verify_pdf: validation failed", exc_info=True)
        return FileCheck(
            code=1,
            reason="bad_signature",
            identifier=identifier,
            metadata=metadata,
            signatures=len(signatures),
        )
    cert = status.signing_cert
    common: dict[str, Any] = {
        "identifier": identifier,
        "metadata": metadata,
        "signer": cert.subject.human_friendly if cert is not None else "",
        "signer_fingerprint": cert.sha256.hex() if cert is not None else "",
        "signing_time": status.signer_reported_dt,
        "timestamped": status.timestamp_validity is not None,
        "signatures": len(signatures),
    }
    if not status.intact or not status.valid:
        return FileCheck(code=1, reason="altered", **common)
    if not status.trusted:
        return FileCheck(code=1, reason="untrusted", **common)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return FileCheck(code=1, reason="not_entire_file", **common)
    if not status.bottom_line:
        return FileCheck(code=1, reason="invalid", **common)
    return FileCheck(code=0, reason="ok", **common)
