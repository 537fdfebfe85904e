"""The audit trail over the API: library administrators and the supervisor read it."""

from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from shared.audit import export, selectors
from shared.audit.api.filters import AuditEntryFilterSet
from shared.audit.api.serializers import AuditEntrySerializer
from shared.audit.models import AuditEntry
from shared.core.api.schema import ErrorSerializer


class _AuditReadable:
    """Refuse anyone but a reader before any filter or page is read (403, stable code)."""

    filterset_class = AuditEntryFilterSet

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return AuditEntry.objects.none()
        return selectors.audit_list(user=self.request.user)  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        selectors.require_audit_reader(request.user)


class AuditEntryListApi(_AuditReadable, generics.ListAPIView):
    serializer_class = AuditEntrySerializer

    @extend_schema(
        summary="管理审计：谁在何时对什么做了哪项管理操作（修改前后）",
        description="仅库管理员和监管人员可读；按时间倒序分页。",
        responses={200: AuditEntrySerializer(many=True), 403: ErrorSerializer},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class AuditExportApi(_AuditReadable, generics.GenericAPIView):
    @extend_schema(
        summary="导出管理审计（CSV，UTF-8 BOM，北京时间）",
        description="过滤条件同列表；单次最多 200,000 行，按时间倒序。",
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV 文件"),
            400: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        entries = self.filter_queryset(self.get_queryset())[: export.ROW_CAP]
        response = StreamingHttpResponse(
            export.csv_rows(entries.iterator(chunk_size=2000)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="audit-{settings.LIBRARY_CODE}.csv"'
        )
        return response
