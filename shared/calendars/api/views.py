"""The working-day override table over the API, for the library administrator."""

from datetime import date
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from shared.calendars import services
from shared.calendars.models import WorkdayOverride
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import ForbiddenError, PermanentError

DAY = OpenApiParameter(
    "day", OpenApiTypes.DATE, OpenApiParameter.PATH, description="日期（YYYY-MM-DD）"
)


class OverrideSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkdayOverride
        fields = ["day", "is_workday", "note", "updated_at"]


class OverrideSetSerializer(serializers.Serializer):
    is_workday = serializers.BooleanField(help_text="true：当日为工作日；false：当日为休息日")
    note = serializers.CharField(max_length=200, allow_blank=True, default="", help_text="说明")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise PermanentError(
            "calendar.day_invalid", "日期格式应为 YYYY-MM-DD", {"day": value[:20]}
        ) from exc


class _LibraryAdminOnly:
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if not getattr(request.user, "is_library_admin", False):
            raise ForbiddenError(
                "permission.library_admin_required", "仅库管理员可以查看和调整工作日日历"
            )


class OverrideListApi(_LibraryAdminOnly, generics.ListAPIView):
    serializer_class = OverrideSerializer
    queryset = WorkdayOverride.objects.order_by("day")

    @extend_schema(
        summary="工作日调整列表（库管理员）",
        responses={200: OverrideSerializer(many=True), 403: ErrorSerializer},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class OverrideDayApi(_LibraryAdminOnly, generics.GenericAPIView):
    serializer_class = OverrideSerializer

    @extend_schema(
        summary="设置某日为工作日或休息日（覆盖法定日历）",
        parameters=[DAY],
        request=OverrideSetSerializer,
        responses={200: OverrideSerializer, 201: OverrideSerializer, 403: ErrorSerializer},
    )
    def put(self, request: Request, day: str) -> Response:
        data = OverrideSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row, created = services.override_set(
            actor=request.user, day=_day(day), **data.validated_data
        )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(OverrideSerializer(row).data, status=answer)

    @extend_schema(
        summary="取消某日的工作日调整（恢复法定日历）",
        parameters=[DAY],
        request=None,
        responses={204: None, 400: ErrorSerializer, 403: ErrorSerializer},
    )
    def delete(self, request: Request, day: str) -> Response:
        services.override_delete(actor=request.user, day=_day(day))
        return Response(status=status.HTTP_204_NO_CONTENT)
