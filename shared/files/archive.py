"""The archive package of a licence (art. 23): one ZIP a records office can keep.

Entries: every ready signed file (all versions, watermarked variants included), the metadata as
JSON and as XML with GB/T 36903 element names, the event history, a verification report made
now, a printable (unsigned, marked) rendering of the current version, and `manifest.json` with
the SM3 digest and size of every other entry, signed (`manifest.sig`, a compact token in the
library's suite) so the package can be checked offline against the trust list.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from xml.etree import ElementTree as ET

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from shared.core.errors import ConflictError
from shared.crypto.pdfverify import verify_pdf
from shared.domain.canonical import sm3_hex
from shared.domain.status import STATUS_LABELS, Status
from shared.files import documents, keystore, storage
from shared.files.models import LicenseFile
from shared.files.render import render_license_pdf
from shared.files.verification import trust_roots
from shared.licenses import lookups
from shared.licenses.models import License, LicenseEvent, LicenseVersion

# GB/T 36903-2018 电子证照 元数据规范: core element names.
XML_FIELDS = [
    ("证照标识", "identifier"),
    ("证照类型名称", "type_name"),
    ("证照类型代码", "type_code"),
    ("证照编号", "number"),
    ("证照颁发机构", "issuer_name"),
    ("证照颁发机构代码", "issuer_code"),
    ("颁证日期", "issue_date"),
    ("证照有效期起始日期", "valid_from"),
    ("证照有效期截止日期", "valid_to"),
    ("持证主体", "holder_name"),
    ("持证主体代码", "holder_code"),
    ("持证主体代码类型", "holder_code_type"),
    ("证照状态", "status_label"),
    ("版本号", "version"),
    ("关联事项编码", "matter_code"),
    ("颁证单位所属行政区划", "area_code"),
    ("内容摘要", "content_digest"),
]


def _metadata(lic: License, version: LicenseVersion) -> dict[str, Any]:
    return {
        "identifier": version.identifier,
        "type_name": lic.license_type.name,
        "type_code": lic.license_type.type_code,
        "number": version.number,
        "issuer_name": lic.issuer.name,
        "issuer_code": lic.issuer.code,
        "issue_date": version.issue_date.isoformat(),
        "valid_from": version.valid_from.isoformat(),
        "valid_to": version.valid_to.isoformat() if version.valid_to else "长期",
        "holder_name": version.holder_name,
        "holder_code": version.holder_code,
        "holder_code_type": version.holder_code_type,
        "status": lic.status,
        "status_label": STATUS_LABELS[Status(lic.status)],
        "version": version.version,
        "matter_code": version.matter_code,
        "area_code": lic.area_code,
        "content_digest": version.content_digest,
        "mode": lic.mode,
        "surface": version.surface,
        "library": lic.library_code,
    }


def _xml(meta: dict[str, Any]) -> bytes:
    root = ET.Element("电子证照元数据", {"标准": "GB/T 36903-2018"})
    for element, key in XML_FIELDS:
        ET.SubElement(root, element).text = str(meta.get(key, ""))
    surface = ET.SubElement(root, "照面信息")
    for key, value in meta["surface"].items():
        item = ET.SubElement(surface, "信息项", {"名称": str(key)})
        item.text = str(value)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder).encode()


def _signed_files(rows: list[LicenseFile]) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Each signed file as an entry, and what checking its signature found."""
    entries: dict[str, bytes] = {}
    report: list[dict[str, Any]] = []
    roots = trust_roots()
    for row in rows:
        data = storage.read(row.path)
        name = f"files/v{row.version:03d}-{row.variant}.pdf"
        entries[name] = data
        check = verify_pdf(data, trust_roots=roots)
        report.append(
            {
                "entry": name,
                "identifier": row.identifier,
                "file_result": {"code": check.code, "message": check.message},
                "reason": check.reason,
                "signer": check.signer,
                "signer_fingerprint": check.signer_fingerprint,
                "signing_time": check.signing_time,
                "timestamped": check.timestamped,
            }
        )
    return entries, report


def _events(lic: License) -> list[dict[str, Any]]:
    events = LicenseEvent.objects.filter(**lookups.history_terms(lic)).order_by("seq")
    return [
        {
            "seq": e.seq,
            "action": e.action,
            "from_status": e.from_status,
            "to_status": e.to_status,
            "version": e.version,
            "identifier": e.identifier,
            "reason": e.reason,
            "data": e.data,
            "actor_agency_code": e.actor_agency_code,
            "created_at": e.created_at,
        }
        for e in events
    ]


def archive_build(*, lic: License) -> bytes:
    """The ZIP bytes; 409 while a file of the licence is still being made."""
    rows = list(LicenseFile.objects.filter(license=lic).order_by("version", "created_at"))
    if not rows or any(r.state != LicenseFile.State.READY for r in rows):
        raise ConflictError(
            "file.not_ready",
            "签章文件尚未全部生成，暂不能归档",
            {"states": {f"{r.identifier}/{r.variant}": r.state for r in rows}},
        )
    version = LicenseVersion.objects.get(**lookups.version_terms(lic.identifier))
    entries, report = _signed_files(rows)
    meta = _metadata(lic, version)
    entries["metadata.json"] = _json(meta)
    entries["metadata.xml"] = _xml(meta)
    entries["events.json"] = _json(_events(lic))
    entries["verification-report.json"] = _json(
        {"verified_at": timezone.now(), "library": settings.LIBRARY_CODE, "files": report}
    )
    qr = documents.qr_token_issue(lic=lic, version=version)
    printable = documents.license_document(
        lic=lic,
        version=version,
        qr=qr,
        annotation=["归档打印件：本件仅供存档打印，法律效力以签章文件为准"],
    )
    entries["printable.pdf"] = render_license_pdf(printable, font_path=keystore.font_path()).pdf
    manifest = {
        "identifier": lic.identifier,
        "library": settings.LIBRARY_CODE,
        "created_at": timezone.now().isoformat(),
        "digest_algorithm": "SM3",
        "entries": [
            {"name": name, "size": len(data), "sm3": sm3_hex(data)}
            for name, data in sorted(entries.items())
        ],
    }
    manifest_bytes = _json(manifest)
    entries["manifest.json"] = manifest_bytes
    entries["manifest.sig"] = keystore.token_sign(
        {"typ": "archive-manifest", "sm3": sm3_hex(manifest_bytes)}
    ).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()
