"""From database rows to what is printed: `LicenseDocument` values and QR tokens.

A licence type's `template` (edited as data in the catalogue) may carry:
`{"title": "...", "background": "<data:image/png;base64,...>", "fields": [{"label": "...",
"source": "holder_name" | "holder_code" | "number" | "validity" | "surface.<key>"}],
"layout": {"title_y": 52, "fields_x": 28, "fields_y": 80, "line_height": 11, "font_size": 13,
"positions": {"<label>": [x_mm, y_mm_from_top]}}}`. Without `fields`, the holder, every surface
field (in schema order) and the validity are printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.utils import timezone

from shared.crypto.suites import get_suite
from shared.crypto.tokens import sign_qr_token
from shared.files import keystore
from shared.files.render import LicenseDocument
from shared.licenses.models import License, LicenseVersion

HOLDER_CODE_LABELS = {"001": "统一社会信用代码", "111": "公民身份号码"}
WATERMARKS = {"revoked": "已吊销", "annulled": "已撤销", "cancelled": "已注销"}


@dataclass(frozen=True, slots=True, kw_only=True)
class QrToken:
    token: str
    url: str
    issued_at: datetime
    expires_at: datetime


def _date(value: Any) -> str:
    return f"{value.year}年{value.month:02d}月{value.day:02d}日" if value else ""


def _validity(version: LicenseVersion) -> str:
    end = _date(version.valid_to) if version.valid_to else "长期"
    return f"{_date(version.valid_from)} 至 {end}"


def _surface_value(value: Any) -> str:
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return "" if value is None else str(value)


def _fields(lic: License, version: LicenseVersion) -> list[tuple[str, str]]:
    license_type = lic.license_type
    template = license_type.template or {}
    sources = {
        "holder_name": version.holder_name,
        "holder_code": version.holder_code,
        "number": version.number,
        "validity": _validity(version),
        "issuer_name": lic.issuer.name,
    }
    if template.get("fields"):
        rows = []
        for spec in template["fields"]:
            source = str(spec.get("source", ""))
            if source.startswith("surface."):
                value = _surface_value(version.surface.get(source.removeprefix("surface.")))
            else:
                value = sources.get(source, "")
            rows.append((str(spec.get("label", source)), value))
        return rows
    rows = [
        ("持证主体", version.holder_name),
        (HOLDER_CODE_LABELS.get(version.holder_code_type, "持证主体代码"), version.holder_code),
    ]
    properties = (license_type.surface_schema or {}).get("properties", {})
    keys = [k for k in properties if k in version.surface] + [
        k for k in version.surface if k not in properties
    ]
    for key in keys:
        title = properties.get(key, {}).get("title", key) if key in properties else key
        rows.append((str(title), _surface_value(version.surface[key])))
    rows.append(("有效期限", _validity(version)))
    return rows


def qr_token_issue(
    *, lic: License, version: LicenseVersion, now: datetime | None = None
) -> QrToken:
    """A signed QR token for one version, valid for the type's `qr_validity_days` (art. 14).

    The compact form (`shared.crypto.tokens.sign_qr_token`) in an all-upper-case URL, so the
    whole QR code is alphanumeric mode: version 8 instead of version 16 for the former JWS URL,
    which a phone or zbar still reads from a page printed or scanned at 80 dpi.
    """
    now = now or timezone.now()
    expires = now + timedelta(days=lic.license_type.qr_validity_days)
    from shared.files.statuslists import status_index_ensure

    key = keystore.token_key_current()
    token = sign_qr_token(
        suite=get_suite(key.suite),
        key=keystore.private_key(key),
        kid=key.key_id,
        identifier=version.identifier,
        issuer=lic.issuer.code,
        issued_at=int(now.timestamp()),
        expires_at=int(expires.timestamp()),
        status_index=status_index_ensure(license=lic).index,
    )
    return QrToken(token=token, url=qr_url(token), issued_at=now, expires_at=expires)


def qr_url(token: str) -> str:
    """`HTTP://HOST/V/<TOKEN>`: scheme and host upper-cased (both are case-insensitive) so that
    with the base-36 token every character is in the QR alphanumeric set; a path prefix in
    `FILES_PUBLIC_BASE_URL` is kept as written."""
    parts = urlsplit(settings.FILES_PUBLIC_BASE_URL.rstrip("/"))
    base = urlunsplit((parts.scheme.upper(), parts.netloc.upper(), parts.path, "", ""))
    return f"{base}/V/{token}"


def license_document(
    *,
    lic: License,
    version: LicenseVersion,
    qr: QrToken,
    variant: str = "original",
    annotation: list[str] | None = None,
    scan: bytes | None = None,
    when: datetime | None = None,
) -> LicenseDocument:
    template = lic.license_type.template or {}
    watermark = WATERMARKS.get(variant, "")
    note = ""
    if watermark:
        note = f"本证照已于 {_date(timezone.localdate(when or timezone.now()))} {watermark[1:]}"
    keywords = ";".join(
        [
            f"identifier={version.identifier}",
            f"version={version.version}",
            f"digest={version.content_digest}",
            f"library={lic.library_code}",
            f"variant={variant}",
        ]
    )
    return LicenseDocument(
        title=str(template.get("title") or lic.license_type.name),
        identifier=version.identifier,
        number=version.number,
        fields=_fields(lic, version),
        issuer_name=lic.issuer.name,
        issue_date=_date(version.issue_date),
        qr_url=qr.url,
        qr_caption=f"扫码核验　二维码有效期至 {_date(timezone.localdate(qr.expires_at))}",
        subject_keywords=keywords,
        watermark=watermark,
        watermark_note=note,
        annotation=annotation or [],
        background=_background(template),
        scan=scan,
        layout=template.get("layout") or {},
    )


def _background(template: dict) -> bytes | None:
    from shared.files.render import _data_image

    try:
        return _data_image(template.get("background"))
    except ValueError:
        return None  # a broken 底图 must not stop issuing; the default frame is drawn instead
