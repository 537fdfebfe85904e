"""Sharing and accountability API. Thin: parse, call one service or selector, serialise.

Every refusal at these endpoints (401, 403, 404, 400, 429 …) is itself an access record,
written before the error answer leaves (`RecordedRefusalsMixin`).
"""

import csv
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import django_filters
from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access import grants, log, ratelimit, selectors, services
from shared.access.api.serializers import (
    AccessRecordSerializer,
    CheckpointSerializer,
    GrantCreateSerializer,
    GrantSerializer,
    ProofSerializer,
    ShareQueryResultSerializer,
    ShareQuerySerializer,
)
from shared.access.models import AccessRecord, Checkpoint, Grant
from shared.access.text import csv_cell
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.exceptions import DRF_CODES
from shared.core.api.permissions import LICENCE_USERS
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import ApplicationError, ForbiddenError, NotFoundError

Operation = AccessRecord.Operation


def _error_code(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, ApplicationError):
        return exc.code, exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error", 400
    for klass, (code, _) in DRF_CODES.items():
        if isinstance(exc, klass):
            return code, getattr(exc, "status_code", 400)
    return "error", getattr(exc, "status_code", 500)


def client_address(request: Any) -> str:
    """The caller's address as this server sees it (the proxy's, behind one: X-Forwarded-For
    is the caller's to write, so it is not trusted for a budget)."""
    return str(request.META.get("REMOTE_ADDR", "") or "-")[:64]


class RecordedRefusalsMixin:
    """Record every refused call before the error answer leaves: an access record for a
    caller who said who it is; for one who did not (401), a count per minute and kind
    (`services.anonymous_refusal`), and 429 once its address is over its budget."""

    access_operation: str = Operation.LOG_READ
    rate_limits_anonymous = True  # documents the 429 (shared.core.api.schema)

    def handle_exception(self, exc: Exception) -> Response:
        request = self.request  # type: ignore[attr-defined]
        unauthenticated = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)
        if isinstance(exc, unauthenticated) and not getattr(exc, "access_recorded", False):
            code, _ = _error_code(exc)
            if services.anonymous_refusal(kind=f"api:{code}", client=client_address(request)):
                exc = services.RateLimitedError(
                    "rate_limited",
                    "未认证的请求过于频繁，请稍后再试",
                    {"retry_after_seconds": ratelimit.retry_after()},
                )
            exc.access_recorded = True  # type: ignore[union-attr]  # counted just above
        if not getattr(exc, "access_recorded", False):
            code, status_code = _error_code(exc)
            data: Any = {}
            try:
                data = request.data if isinstance(request.data, dict) else {}
            except Exception:  # noqa: BLE001 - an unparsable body is itself the refusal
                data = {}
            holder = data.get("holder") if isinstance(data.get("holder"), dict) else {}
            try:
                user = request.user
            except Exception:  # noqa: BLE001 - failed authentication leaves no user
                user = None
            services.access_record(
                user=user,
                operation=self.access_operation,
                matter_code=str(data.get("matter_code", ""))[:64],
                use_cause=str(data.get("use_cause", ""))[:200],
                licenses=[],
                outcome=AccessRecord.Outcome.REFUSED,
                reason_code=code,
                holder_code=str(holder.get("code", ""))[:64],
                holder_code_type=str(holder.get("code_type", ""))[:3],
                detail={"status": status_code, "path": request.path[:200]},
            )
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # Records held back inside a transaction that has ended since (SQLite) are written
        # before the answer leaves, refusals of a rolled-back transaction included.
        log.log_flush_deferred()
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


# --- purpose-bound query ---------------------------------------------------------------------


class ShareQueryApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.QUERY

    @extend_schema(
        request=ShareQuerySerializer,
        responses={
            200: ShareQueryResultSerializer,
            403: ErrorSerializer,
            429: ErrorSerializer,
        },
        summary="按事项和用证事由查询一个持证主体的证照（用证留痕）",
        description=(
            "只返回本单位对该事项有用证授权的证照类型；在省级枢纽，结果涵盖各市节点汇聚的证照与"
            "行业库证照（`library_code` 表示来源库）。在市级节点，本库无结果（或 `scope` 为"
            " `province`）时转省级枢纽查询全省，`forwarded_to` 为 410000；枢纽不可用时返回 503"
            " `federation.hub_unavailable` 与 Retry-After。没有持证主体、事项或用证事由的查询、"
            "列表与前缀查询一律拒绝。每次查询（含被拒绝的）都在应答前写入用证记录。"
        ),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = ShareQuerySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        answer = services.share_query(
            user=request.user,
            holder_code=values["holder"]["code"],
            holder_code_type=values["holder"]["code_type"],
            matter_code=values["matter_code"],
            use_cause=values["use_cause"],
            type_code=values.get("type_code", ""),
            scope=values.get("scope", "auto"),
        )
        body = {
            "request_id": answer.request_id,
            "library_code": settings.LIBRARY_CODE,
            "count": len(answer.licenses) + len(answer.remote),
            "results": answer.licenses,
            "sector_results": answer.sector,
            "unavailable_libraries": answer.unavailable,
            "forwarded_to": answer.forwarded_to,
        }
        result = ShareQueryResultSerializer(body).data
        if answer.remote:  # the hub's licences, already in this shape (the hub's serializer)
            result["results"] = [*result["results"], *answer.remote]
        if not answer.forwarded_to:
            del result["forwarded_to"]  # a local answer is what it always was
        return Response(result)


# --- grants ----------------------------------------------------------------------------------


class GrantListApi(RecordedRefusalsMixin, generics.ListAPIView):
    access_operation = Operation.GRANT
    serializer_class = GrantSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Grant.objects.none()
        return selectors.grant_list(user=authenticated(self.request).user)

    @extend_schema(
        request=GrantCreateSerializer,
        responses={201: GrantSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="授予用证权限（节点管理员：市级证照；省级运营人员：全省）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = GrantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = grants.grant_create(actor=request.user, **data.validated_data)
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantRevokeApi(RecordedRefusalsMixin, APIView):
    access_operation = Operation.GRANT

    @extend_schema(
        request=None,
        responses={200: GrantSerializer},
        parameters=[OpenApiParameter("grant_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        summary="撤销用证权限",
    )
    def post(self, request: AuthenticatedRequest, grant_id: str) -> Response:
        if not request.user.is_library_admin:
            raise ForbiddenError("permission.library_admin_required", "仅库管理员可管理用证授权")
        pk = int(grant_id) if grant_id.isdigit() and len(grant_id) < 18 else 0
        grant = grants.grant_revoke(actor=request.user, grant_id=pk)
        return Response(GrantSerializer(grant).data)


# --- the access log --------------------------------------------------------------------------


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """Compared in UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601 allows."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except (OverflowError, ValueError):
                return qs.none()  # a moment outside the calendar matches no record
        return super().filter(qs, value)


class TextFilter(django_filters.CharFilter):
    """Exact text; a value no record can hold (NUL characters) simply matches nothing."""

    def filter(self, qs, value):
        if value and "\x00" in value:
            return qs.none()
        return super().filter(qs, value)


class SinceFilter(UtcDateTimeFilter):
    """`occurred_at` from this moment on, reading only the months that can hold it."""

    def filter(self, qs, value):
        if value is None:
            return qs
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):
            return qs.none()
        return selectors.access_log_since(qs, moment=value)


class AccessRecordFilterSet(django_filters.FilterSet):
    since = SinceFilter(field_name="occurred_at", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    operation = django_filters.ChoiceFilter(choices=AccessRecord.Operation.choices)
    outcome = django_filters.ChoiceFilter(choices=AccessRecord.Outcome.choices)
    matter_code = TextFilter()
    agency_code = TextFilter()
    type_code = TextFilter()
    identifier = TextFilter()

    class Meta:
        model = AccessRecord
        fields = [
            "since",
            "until",
            "operation",
            "outcome",
            "matter_code",
            "agency_code",
            "type_code",
            "identifier",
        ]


class AccessLogListApi(RecordedRefusalsMixin, generics.ListAPIView):
    """Who used which licences, when, for which matter and why (art. 27)."""

    serializer_class = AccessRecordSerializer
    filterset_class = AccessRecordFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AccessRecord.objects.none()
        return selectors.access_log_visible(user=authenticated(self.request).user).order_by("-id")

    @extend_schema(
        summary="用证记录：签发单位查看谁在何时、为何事项和事由使用了本单位的证照",
        responses={200: AccessRecordSerializer(many=True)},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


CSV_COLUMNS = [
    ("seq", "链上序号"),
    ("occurred_at", "时间"),
    ("agency_code", "用证单位代码"),
    ("agency_name", "用证单位"),
    ("username", "经办人"),
    ("operation", "操作"),
    ("outcome", "结果"),
    ("reason_code", "拒绝原因"),
    ("matter_code", "事项编码"),
    ("use_cause", "用证事由"),
    ("identifier", "证照标识"),
    ("type_code", "证照类型代码"),
    ("issuer_code", "签发单位代码"),
    ("source_library", "证照来源库"),
    ("origin_library", "记录来源库"),
    ("record_hash", "记录哈希"),
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_value(record: AccessRecord, name: str) -> Any:
    if name == "occurred_at":  # the zone the API answers in (TIME_ZONE, Asia/Shanghai)
        return timezone.localtime(record.occurred_at).isoformat()
    return csv_cell(getattr(record, name))  # a purpose "=…" stays text in a spreadsheet


def _csv_rows(records: Any) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([label for _, label in CSV_COLUMNS])
    for record in records.iterator(chunk_size=2000):
        yield writer.writerow([_csv_value(record, name) for name, _ in CSV_COLUMNS])


class AccessLogExportApi(RecordedRefusalsMixin, generics.GenericAPIView):
    filterset_class = AccessRecordFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AccessRecord.objects.none()
        return selectors.access_log_visible(user=authenticated(self.request).user).order_by("id")

    @extend_schema(
        summary="导出用证记录（CSV，UTF-8 BOM，可用 Excel 打开）",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV 文件"),
            400: ErrorSerializer,
        },
    )
    def get(self, request: AuthenticatedRequest) -> StreamingHttpResponse:
        records = self.filter_queryset(self.get_queryset())[:200000]
        response = StreamingHttpResponse(_csv_rows(records), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="access-log-{settings.LIBRARY_CODE}.csv"'
        )
        return response


class AccessLogProofApi(RecordedRefusalsMixin, APIView):
    @extend_schema(
        responses={
            200: ProofSerializer,
            409: OpenApiResponse(ErrorSerializer, "该记录尚未纳入签名检查点（稍后再试）"),
        },
        parameters=[OpenApiParameter("seq", OpenApiTypes.INT, OpenApiParameter.PATH)],
        summary="用证记录的包含证明（Merkle 审计路径 + 已签名的检查点，只读）",
    )
    def get(self, request: AuthenticatedRequest, seq: str) -> Response:
        number = int(seq) if seq.isdigit() and len(seq) < 18 else 0
        visible = selectors.access_log_visible(user=request.user).filter(seq=number).exists()
        if not number or not visible:
            raise NotFoundError("access.record_not_found", "用证记录不存在")
        # Read-only: the proof comes from a checkpoint the beat has already signed (a read
        # that signed one would let anyone grow the checkpoint table); 409 until there is one.
        return Response(ProofSerializer(log.log_proof(seq=number)).data)


class AccessLogCheckpointApi(RecordedRefusalsMixin, APIView):
    @extend_schema(
        responses={200: CheckpointSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        summary="本库最新的用证记录签名检查点（树大小、Merkle 根、链头）",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        if request.user.is_holder:
            raise ForbiddenError("permission.denied", "无权执行此操作")
        cp = Checkpoint.objects.order_by("-tree_size").first()
        if cp is None:
            raise NotFoundError("access.no_checkpoint", "尚无用证记录检查点")
        return Response(CheckpointSerializer(log.checkpoint_document(cp)).data)
