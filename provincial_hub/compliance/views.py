"""The public criticism page: server-rendered, in Chinese, no sign-in (art. 33)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from provincial_hub.compliance import selectors

PAGE_ROWS = 200  # the latest; the JSON list (/api/v1/public/criticism/) pages through all


def criticism_page(request: HttpRequest) -> HttpResponse:
    notices = selectors.criticism_list()
    rows = [selectors.criticism_row(n) for n in notices[:PAGE_ROWS]]
    response = render(
        request,
        "compliance/criticism.html",
        {"rows": rows, "total": notices.count(), "shown": len(rows)},
    )
    response["Cache-Control"] = "public, max-age=300"
    return response
