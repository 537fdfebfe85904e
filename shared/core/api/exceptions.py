"""The single DRF exception handler: every error answers `{"code", "message", "detail"}`."""

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from shared.core.errors import ApplicationError
from shared.domain.errors import DomainError

# Domain refusals that mean "the licence is not in a state for this", not "bad input".
CONFLICT_CODES = frozenset({"license.illegal_transition", "license.pledge_state"})

DRF_CODES: dict[type[exceptions.APIException], tuple[str, str]] = {
    exceptions.NotAuthenticated: ("auth.required", "未提供身份凭证，请使用 Bearer 令牌或登录"),
    exceptions.AuthenticationFailed: ("auth.failed", "身份凭证无效或已过期"),
    exceptions.PermissionDenied: ("permission.denied", "无权执行此操作"),
    exceptions.NotFound: ("not_found", "资源不存在或无权访问"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "不支持该请求方法"),
    exceptions.NotAcceptable: ("not_acceptable", "无法提供所请求的响应格式"),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", "不支持的请求内容类型"),
    exceptions.ParseError: ("request.malformed", "请求体格式错误，无法解析"),
    exceptions.Throttled: ("rate_limited", "请求过于频繁，请稍后再试"),
}


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "detail": detail if detail is not None else {}}


def _first_field_error(detail: Any, path: str = "") -> tuple[str, str] | None:
    """The first (field path, message) in a nested DRF error structure, to name it in Chinese."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            sub = f"{path}.{key}" if path else str(key)
            found = _first_field_error(value, sub)
            if found:
                return found
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            sub = path if not isinstance(value, dict | list) else f"{path}[{index}]"
            found = _first_field_error(value, sub)
            if found:
                return found
    elif detail is not None:
        return path, str(detail)
    return None


def validation_response(detail: Any) -> Response:
    first = _first_field_error(detail)
    if first and first[0] and first[0] != "non_field_errors":
        message = f"请求参数有误：{first[0]}：{first[1]}"
    elif first:
        message = f"请求参数有误：{first[1]}"
    else:
        message = "请求参数有误"
    if not isinstance(detail, dict):  # `detail` is always an object (ErrorSerializer)
        detail = {api_settings.NON_FIELD_ERRORS_KEY: detail}
    return Response(
        error_body("validation_error", message, detail), status=status.HTTP_400_BAD_REQUEST
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        # Django's answer would be its HTML "Bad Request" page.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            error_body(
                "request.too_large",
                f"请求体过大：上限 {limit // (1024 * 1024)} MB，请分批提交",
                {"limit_bytes": limit},
            ),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DataError | OverflowError):
        # OverflowError: SQLite's answer to an integer past 64 bits that slipped past the input
        # guard (say, a numeric string an IntegerField turned into one); PostgreSQL's is DataError.
        set_rollback()  # as DRF's own handler does: nothing of the request is kept
        return Response(
            error_body("request.invalid_value", "请求中的某个值超出允许范围或格式不正确"),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (restart, failover): the same call will work again shortly.
        return Response(
            error_body("service.unavailable", "数据库暂时不可用，请稍后重试"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "2"},
        )
    if isinstance(exc, ApplicationError):
        # Advice to retry (429, 503) goes in the header HTTP clients read, too.
        retry = exc.detail.get("retry_after_seconds") if isinstance(exc.detail, dict) else None
        headers = {"Retry-After": str(int(retry))} if isinstance(retry, int | float) else None
        return Response(
            error_body(exc.code, exc.message, exc.detail), status=exc.status_code, headers=headers
        )
    if isinstance(exc, DomainError):
        answer = status.HTTP_409_CONFLICT if exc.code in CONFLICT_CODES else 400
        return Response(error_body(exc.code, exc.message, exc.detail), status=answer)
    if isinstance(exc, exceptions.ValidationError):
        return validation_response(exc.detail)
    if isinstance(exc, DjangoValidationError):
        return validation_response(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code, message = "error", "请求失败"
    for klass, pair in DRF_CODES.items():
        if isinstance(exc, klass):
            code, message = pair
            break
    detail = {}
    wait = getattr(exc, "wait", None)  # Throttled's, which the stubs do not declare
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        detail = {"retry_after_seconds": int(wait)}
    response.data = error_body(code, message, detail)
    return response
