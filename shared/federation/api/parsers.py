"""The version 3 envelope's parser: the request's body is the signed body's JSON bytes, kept as
they are (the signature covers them; `shared.federation.ingest` parses them once, under the
input guard), and its signature comes from headers (`shared.exchange.envelopes`)."""

from django.conf import settings
from rest_framework.parsers import BaseParser

from shared.core.api.parsers import body_too_large
from shared.exchange.envelopes import RAW_MEDIA_TYPE, raw_envelope


class SignedEnvelopeParser(BaseParser):
    media_type = RAW_MEDIA_TYPE

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise body_too_large(limit)
        meta = parser_context["request"].META

        def header(name: str) -> str | None:
            return meta.get("HTTP_" + name.upper().replace("-", "_"))

        return raw_envelope(header, body)
