"""Review requests API (art. 24). Thin: parse, call one service or selector, serialise.

Filing a request is a purpose-bound use of the licence: every refused filing is an access
record written before the error answer leaves, as at /share/query/ (`RecordedRefusalsMixin`,
for POST only: reading one's inbox uses no licence).
"""

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access.api.views import RecordedRefusalsMixin, TextFilter
from shared.access.models import AccessRecord
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.schema import ErrorSerializer
from shared.files.api.binary import PdfRenderer, PngRenderer, _Binary, binary_response
from shared.reviews import selectors, services
from shared.reviews.api.serializers import (
    OverdueCountSerializer,
    ReviewAnswerSerializer,
    ReviewCreateFormSerializer,
    ReviewCreateSerializer,
    ReviewSerializer,
)
from shared.reviews.api.uploads import uploaded_files
from shared.reviews.models import ReviewRequest
from shared.reviews.selectors import with_details

REVIEW_ID = OpenApiParameter("review_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class ReviewFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=ReviewRequest.State.choices)
    overdue = django_filters.BooleanFilter(help_text="true：已逾期（逾期后答复的也计入）")
    answered_late = django_filters.BooleanFilter()
    requester_kind = django_filters.ChoiceFilter(choices=ReviewRequest.RequesterKind.choices)
    issuer_code = TextFilter(field_name="issuer__code")
    identifier = TextFilter()
    library_code = TextFilter()

    class Meta:
        model = ReviewRequest
        fields = [
            "state",
            "overdue",
            "answered_late",
            "requester_kind",
            "issuer_code",
            "identifier",
            "library_code",
        ]


class _FilingRefusalsRecorded(RecordedRefusalsMixin):
    """Refusals of a filing (POST) are access records; the reads' are not."""

    access_operation = AccessRecord.Operation.REVIEW

    def handle_exception(self, exc: Exception) -> Response:
        if self.request.method != "POST":  # type: ignore[attr-defined]
            return APIView.handle_exception(self, exc)  # type: ignore[arg-type]
        return super().handle_exception(exc)


class ReviewListApi(_FilingRefusalsRecorded, generics.ListAPIView):
    serializer_class = ReviewSerializer
    filterset_class = ReviewFilterSet

    def get_queryset(self) -> QuerySet[ReviewRequest]:
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return ReviewRequest.objects.none()
        return with_details(selectors.review_list(user=authenticated(self.request).user))

    @extend_schema(
        summary="复核申请列表：签发单位的待办，申请人自己的申请；库管理员与监管人员只读查看全部",
    )
    def get(self, request: Any, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={
            "application/json": ReviewCreateSerializer,
            "multipart/form-data": ReviewCreateFormSerializer,
        },
        responses={
            201: ReviewSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, "同一申请人对该证照已有待答复的复核申请"),
            429: ErrorSerializer,
        },
        summary="申请复核证照信息（持证人；或证照应用单位，须注明事项与用证事由）",
        description=(
            "返回的 `deadline` 为答复期限：收到之日后第 5 个工作日（按法定节假日与调休，"
            "含管理员设置的工作日调整）；`deadline_provisional` 为 true 表示该年度假日安排尚未"
            "公布、按周一至周五估算。附件（multipart 的 `attachments`）只接受按内容判断的 "
            "PDF、JPEG、PNG。证照应用单位的申请（含被拒绝的）写入用证记录。"
        ),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        multipart = request.content_type.startswith("multipart/")
        form = ReviewCreateFormSerializer if multipart else ReviewCreateSerializer
        data = form(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        review = services.review_create(
            actor=request.user,
            identifier=values["identifier"],
            reason=values["reason"],
            fields=values["fields"],
            matter_code=values["matter_code"],
            use_cause=values["use_cause"],
            attachments=uploaded_files(values.get("attachments") or []),
        )
        review = with_details(ReviewRequest.objects.filter(pk=review.pk)).get()
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


class ReviewDetailApi(APIView):
    @extend_schema(
        responses={200: ReviewSerializer, 404: ErrorSerializer},
        parameters=[REVIEW_ID],
        summary="复核申请详情（含附件清单、提醒与答复）",
    )
    def get(self, request: AuthenticatedRequest, review_id: str) -> Response:
        review = selectors.review_get(user=request.user, review_id=review_id)
        review = with_details(ReviewRequest.objects.filter(pk=review.pk)).get()
        return Response(ReviewSerializer(review).data)


class ReviewAnswerApi(APIView):
    @extend_schema(
        request=ReviewAnswerSerializer,
        responses={
            200: ReviewSerializer,
            403: ErrorSerializer,
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, "复核申请已答复，或证照当前状态不能变更"),
        },
        parameters=[REVIEW_ID],
        summary="答复复核申请（签发单位）：确认无误、更正（同时变更证照）或不予更正",
    )
    def post(self, request: AuthenticatedRequest, review_id: str) -> Response:
        # Existence and visibility first, so another agency learns nothing from a 400.
        review = selectors.review_get(user=request.user, review_id=review_id)
        data = ReviewAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["valid_to_given"] = "valid_to" in values
        review = services.review_answer(actor=request.user, review_id=review.pk, **values)
        review = with_details(ReviewRequest.objects.filter(pk=review.pk)).get()
        return Response(ReviewSerializer(review).data)


class JpegRenderer(_Binary):
    media_type = "image/jpeg"
    format = "jpg"


class ReviewAttachmentApi(APIView):
    renderer_classes = [JSONRenderer, PdfRenderer, PngRenderer, JpegRenderer]

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "PDF 附件"),
            (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, "JPEG 附件"),
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, "PNG 附件"),
            404: ErrorSerializer,
        },
        parameters=[
            REVIEW_ID,
            OpenApiParameter("attachment_id", OpenApiTypes.INT, OpenApiParameter.PATH),
        ],
        summary="下载复核申请附件（仅签发单位与申请人）",
    )
    def get(
        self, request: AuthenticatedRequest, review_id: str, attachment_id: str
    ) -> HttpResponse:
        attachment = selectors.attachment_get(
            user=request.user, review_id=review_id, attachment_id=attachment_id
        )
        extension = {"application/pdf": "pdf", "image/png": "png"}.get(
            attachment.content_type, "jpg"
        )
        return binary_response(
            bytes(attachment.content or b""),
            attachment.content_type,
            f"review-{attachment.review_id}-{attachment.pk}.{extension}",
            cache="no-store",
        )


class ReviewOverdueApi(APIView):
    @extend_schema(
        responses={200: OverdueCountSerializer(many=True)},
        summary="各签发单位逾期未答复的复核申请数（按本人可见范围统计）",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        visible = selectors.review_list(user=request.user)
        counts = selectors.overdue_counts(reviews=visible)
        rows = [
            {"issuer_code": code, "issuer_name": row["name"], **row} for code, row in counts.items()
        ]
        return Response(
            OverdueCountSerializer(sorted(rows, key=lambda r: r["issuer_code"]), many=True).data
        )
