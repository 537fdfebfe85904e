"""A type's page as an image (template preview on the type detail, issue #15 item 4).

A sample licence of the type — unsaved rows with placeholder values, as the print check
(`shared.files.printable`) lays one out — goes through the same document builder and renderer
as every signed file (`shared.files.documents`, `shared.files.render`), so the preview is the
page the type will print. The PDF becomes a PNG with poppler's `pdftoppm` (a system package);
the image is cached per type and version of its template and schema.
"""

import hashlib
import json
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from shared.catalog.models import LicenseType
from shared.core.errors import PermanentError
from shared.files import documents, keystore
from shared.files.render import FontNotFoundError, UnprintableError, render_license_pdf
from shared.licenses import codec
from shared.licenses.models import License, LicenseVersion

DPI = 60  # an A4 page of about 500 × 700 pixels: enough to see the layout
CACHE_SECONDS = 7 * 24 * 3600


def _sample_value(name: str, spec: dict[str, Any]) -> Any:
    if spec.get("enum"):
        return spec["enum"][0]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    return f"（{spec.get('title') or name}）"[: spec.get("maxLength") or 40]


def _sample(license_type: LicenseType) -> tuple[License, LicenseVersion]:
    today = timezone.localdate()
    properties = (license_type.surface_schema or {}).get("properties", {})
    days = license_type.validity_max_days
    lic = License(
        license_type=license_type,
        issuer=license_type.issuer,
        identifier="（证照标识）",
        number="（证照编号）",
        holder_name="（持证主体名称）",
        holder_code_type="001" if license_type.holder_category != "person" else "111",
        valid_from=today,
        valid_to=today + timedelta(days=days) if days else None,
        issue_date=today,
        surface={
            k: _sample_value(k, v if isinstance(v, dict) else {}) for k, v in properties.items()
        },
        version=1,
    )
    lic.holder_code = "（持证主体代码）"  # a descriptor (stored encrypted), not a column
    return lic, LicenseVersion(license=lic, **codec.version_content(lic))


def _key(license_type: LicenseType) -> str:
    content = json.dumps(
        [license_type.template, license_type.surface_schema, license_type.name],
        sort_keys=True,
        ensure_ascii=False,
    )
    digest = hashlib.sha256(content.encode()).hexdigest()[:24]
    return f"console:preview:{license_type.pk}:{digest}"


def _to_png(pdf: bytes) -> bytes:
    program = shutil.which("pdftoppm")  # poppler-utils, deploy/system-packages.sh
    if program is None:
        raise PermanentError(
            "preview.pdftoppm", "本机未安装 pdftoppm（poppler-utils），无法生成模板预览"
        )
    result = subprocess.run(  # noqa: S603  # a fixed program and arguments; the PDF on stdin
        [program, "-png", "-r", str(DPI), "-singlefile", "-"],
        input=pdf,
        capture_output=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0 or not result.stdout.startswith(b"\x89PNG"):
        raise PermanentError("preview.render", "模板预览图生成失败，请稍后重试")
    return result.stdout


def preview_png(license_type: LicenseType) -> bytes:
    """The type's sample page as a PNG (cached), or a refusal saying why there is none."""
    key = _key(license_type)
    cached = cache.get(key)
    if cached:
        return bytes(cached)
    lic, version = _sample(license_type)
    now = timezone.now()
    qr = documents.QrToken(
        token="",
        url=settings.FILES_PUBLIC_BASE_URL,
        issued_at=now,
        expires_at=now + timedelta(days=license_type.qr_validity_days),
    )
    try:
        doc = documents.license_document(lic=lic, version=version, qr=qr)
        # Marked across the page, so a preview is never taken for a licence.
        doc = replace(doc, watermark="样例", watermark_note="模板预览，示例值，不是证照")
        page = render_license_pdf(doc, font_path=keystore.font_path())
    except FontNotFoundError as exc:
        raise PermanentError("preview.font", "本机未安装证照字体，无法生成模板预览") from exc
    except UnprintableError as exc:
        raise PermanentError("preview.unprintable", f"模板无法排版：{exc.message}") from exc
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise PermanentError("preview.template", "证照类型的模板格式无效，无法生成预览") from exc
    png = _to_png(page.pdf)
    cache.set(key, png, CACHE_SECONDS)
    return png
