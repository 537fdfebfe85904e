"""The public verify page `/V/<TOKEN>` (and the former `/v/<token>`): what a phone shows after
scanning a licence's QR code."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from shared.files.verification import token_check

TONES = {0: "ok", 1: "warn", 2: "warn", 3: "bad", 4: "warn", 5: "bad", 6: "bad"}


@require_GET
def verify_page(request: HttpRequest, token: str) -> HttpResponse:
    check = token_check(token)
    result = check.as_dict()
    response = render(
        request,
        "files/verify.html",
        {"result": result, "tone": TONES[check.info_code], "license": result["license"]},
    )
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response
