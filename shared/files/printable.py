"""The files app's check that a licence prints, run by the licence services at every new
version (`shared.licenses.checks`, registered in FilesConfig.ready)."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from shared.core.errors import PermanentError
from shared.files import documents, keystore
from shared.files.layout import page_check
from shared.files.typeface import FontNotFoundError, register_font
from shared.licenses import codec
from shared.licenses.checks import print_check_register
from shared.licenses.models import License, LicenseVersion


def license_print_check(lic: License) -> None:
    """Refuse now what the signed file could not show exactly: a character the licence font
    has no glyph for, a text that cannot be fitted on the page (`shared.files.layout`). The
    page is laid out as the file will be, from unsaved rows; the QR code is an image, so a
    placeholder URL serves. The render checks again, so an unprintable file is never made."""
    try:
        font_path = keystore.font_path()
        register_font(font_path)
    except FontNotFoundError:
        # No usable font here (none installed, FILES_CJK_FONT wrong): no file is made at all
        # (the render fails and says why), so nothing can differ from the data.
        return
    version = LicenseVersion(license=lic, **codec.version_content(lic))
    now = timezone.now()
    qr = documents.QrToken(
        token="",
        url=settings.FILES_PUBLIC_BASE_URL,
        issued_at=now,
        expires_at=now + timedelta(days=lic.license_type.qr_validity_days),
    )
    try:
        doc = documents.license_document(lic=lic, version=version, qr=qr)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # The type's template is data edited in the catalogue: one of the wrong shape would
        # fail every render of this type, so it is refused here with its reason, not a 500.
        raise PermanentError(
            "file.template_invalid",
            "证照类型的模板格式无效，无法生成证照文件，请联系目录管理员修正模板",
            {"type_code": lic.license_type.type_code, "error": type(exc).__name__},
        ) from exc
    page_check(doc, font_path=font_path)


def register() -> None:
    print_check_register(license_print_check)
