"""``ofd_build``: the sealed OFD package (see the package's docstring for its files)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from shared.crypto.ofd.layout import (
    _content,
    _document_res,
    _document_xml,
    _num,
    _ofd_xml,
    _public_res,
    _signature_xml,
    _signatures_xml,
)
from shared.crypto.ofd.model import (
    DOCUMENT_ZONE,
    SIGNATURE_XML,
    SIGNED_VALUE,
    OfdFont,
    OfdPage,
    OfdSigner,
)
from shared.crypto.ses import signature_make


def ofd_build(
    page: OfdPage,
    *,
    font: OfdFont | None = None,
    font_name: str = "",
    signer: OfdSigner,
    when: dt.datetime,
    doc_id: str,
) -> bytes:
    """The sealed OFD package (ZIP bytes) for one A4 page.

    ``font`` is embedded (see ``shared.files.ofd_render.ofd_font`` for the subset); a bare
    ``font_name`` only names one. ``when`` must be timezone-aware (``ValueError``).
    """
    if when.utcoffset() is None:
        raise ValueError("when must be a timezone-aware datetime")
    font = font if font is not None else OfdFont(name=font_name)
    local = when.astimezone(DOCUMENT_ZONE)
    files: dict[str, bytes] = {}
    font_id, page_id = 1, 2
    image_ids = list(range(3, 3 + len(page.images)))
    next_id = 3 + len(page.images)

    files["OFD.xml"] = _ofd_xml(page, doc_id=doc_id, created=local.date())
    files["Doc_0/PublicRes.xml"] = _public_res(font, font_id=font_id, files=files)
    files["Doc_0/DocumentRes.xml"] = _document_res(page, image_ids=image_ids, files=files)
    content, next_id = _content(
        page, font_id=font_id, widths=font.advances, image_ids=image_ids, next_id=next_id
    )
    files["Doc_0/Pages/Page_0/Content.xml"] = content
    files["Doc_0/Document.xml"] = _document_xml(max_unit_id=next_id, page_id=page_id)

    # Signature.xml references every file so far; the signature files themselves come after.
    signature_xml = _signature_xml(
        files,
        provider=signer.provider,
        when=when,
        page_id=page_id,
        seal_box=" ".join(_num(v) for v in page.seal_box),
    )
    signed_value = signature_make(
        seal_der=signer.seal,
        data=signature_xml,
        property_info="/" + SIGNATURE_XML,
        key=signer.key,
        cert=signer.certificate,
        when=when,
    )
    files["Doc_0/Signs/Signatures.xml"] = _signatures_xml()
    files[SIGNATURE_XML] = signature_xml
    files[SIGNED_VALUE] = signed_value
    return _zip(files, local)


def _zip(files: dict[str, bytes], local: dt.datetime) -> bytes:
    """The ZIP, OFD.xml first, every entry dated ``local`` (the document's zone)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("OFD.xml", *sorted(n for n in files if n != "OFD.xml")):
            entry = zipfile.ZipInfo(name, date_time=local.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, files[name])
    return buffer.getvalue()
