"""Binary answers of the files API: the renderers that let `Accept: application/pdf` (etc.)
through content negotiation, and the response that carries the bytes."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

from shared.files import storage


class _Binary(BaseRenderer):
    """Lets `Accept: application/pdf` (etc.) through content negotiation; the views answer
    with HttpResponse bytes, so this renderer only ever renders an error body as JSON."""

    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        return JSONRenderer().render(data)


class PdfRenderer(_Binary):
    media_type = "application/pdf"
    format = "pdf"


class OfdRenderer(_Binary):
    media_type = "application/ofd"
    format = "ofd"


class PngRenderer(_Binary):
    media_type = "image/png"
    format = "png"


class ZipRenderer(_Binary):
    media_type = "application/zip"
    format = "zip"


def binary_response(
    data: bytes, content_type: str, filename: str, *, cache: str = "private"
) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = f"{cache}, no-transform"
    response["Content-Length"] = str(len(data))
    return response


def pdf_name(identifier: str) -> str:
    return storage.safe_name(identifier) + ".pdf"
