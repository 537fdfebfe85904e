"""Liveness (`/healthz`; readiness and metrics are in shared.ops) and the error handlers of both
URLconfs: JSON in the one error shape, never a traceback or a list of URL patterns."""

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound, JsonResponse

from shared.core.tier import library_tier


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers."""
    return JsonResponse({"status": "ok", "tier": library_tier()})


# Pages a citizen's browser opens (the holder portal, the verify page a QR code points to): an
# unknown address there answers a plain page, everywhere else the API's JSON error shape. Neither
# names the URL patterns (Django's DEBUG 404 page lists them all).
BROWSER_PREFIXES = ("/holder/", "/v/", "/V/")  # /V/: the QR code's upper-case URL
NOT_FOUND_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>页面不存在 · 河南省电子证照库</title></head>
<body><h1>页面不存在</h1><p>您访问的地址不存在或已失效。</p></body></html>
"""


def _error(status: int, code: str, message: str, detail: dict | None = None) -> JsonResponse:
    return JsonResponse({"code": code, "message": message, "detail": detail or {}}, status=status)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404 (and the NUL-path refusal): never Django's page, which lists the URL patterns
    under DEBUG and is HTML either way."""
    if request.path_info.startswith(BROWSER_PREFIXES) and "text/html" in request.headers.get(
        "Accept", ""
    ):
        return HttpResponseNotFound(NOT_FOUND_PAGE)
    return _error(404, "not_found", "请求的地址不存在", {"path": request.path[:200]})


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500: what a caller learns of an unexpected failure is that it happened; the
    traceback goes to the log (django.request), never into the answer."""
    return _error(500, "server_error", "服务器内部错误，请联系管理员")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler400: Django's own refusals outside DRF (a disallowed Host header, a form with
    too many fields), which would otherwise be an HTML page."""
    return _error(400, "request.bad", "请求无效")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler403: `PermissionDenied` raised outside DRF."""
    return _error(403, "permission.denied", "无权执行此操作")
