"""Bulk-analysis requests (art. 21): apply, decide, watch the export, download it."""

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access import bulk, selectors
from shared.access.api.serializers import (
    BulkDecisionSerializer,
    BulkRequestCreateSerializer,
    BulkRequestSerializer,
)
from shared.access.api.views import RecordedRefusalsMixin
from shared.access.bulk_http import bulk_file_response
from shared.access.models import AccessRecord, BulkRequest
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.permissions import LICENCE_USERS
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import NotFoundError

Operation = AccessRecord.Operation
ID_PARAM = OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundError("bulk.not_found", "批量分析申请不存在") from None


class BulkRequestListApi(RecordedRefusalsMixin, generics.ListAPIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.BULK_REQUEST
    serializer_class = BulkRequestSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BulkRequest.objects.none()
        return selectors.bulk_request_list(user=authenticated(self.request).user).prefetch_related(
            "license_types"
        )

    @extend_schema(
        request=BulkRequestCreateSerializer,
        responses={201: BulkRequestSerializer, 404: ErrorSerializer},
        summary="申请批量分析（证照类型、字段、期间、用途、行数上限），由签发单位审批",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = BulkRequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = bulk.bulk_request_create(actor=request.user, **data.validated_data)
        return Response(BulkRequestSerializer(created).data, status=status.HTTP_201_CREATED)


class BulkRequestDetailApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.BULK_REQUEST

    @extend_schema(
        responses={200: BulkRequestSerializer},
        parameters=[ID_PARAM],
        summary="批量分析申请与导出进度",
    )
    def get(self, request: AuthenticatedRequest, request_id: str) -> Response:
        found = selectors.bulk_request_list(user=request.user).filter(pk=_uuid(request_id)).first()
        if found is None:
            raise NotFoundError("bulk.not_found", "批量分析申请不存在")
        return Response(BulkRequestSerializer(found).data)


class BulkRequestDecisionApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.BULK_DECISION

    @extend_schema(
        request=BulkDecisionSerializer,
        responses={200: BulkRequestSerializer, 409: ErrorSerializer},
        parameters=[
            ID_PARAM,
            OpenApiParameter(
                "decision", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["approve", "refuse"]
            ),
        ],
        summary="签发单位审批批量分析申请：approve（可缩减字段）或 refuse（须填写理由）",
        operation_id="v1_bulk_requests_decide",
    )
    def post(self, request: AuthenticatedRequest, request_id: str, decision: str) -> Response:
        if decision not in ("approve", "refuse"):
            raise NotFoundError("bulk.decision_unknown", "不支持的审批操作")
        pk = _uuid(request_id)
        if not selectors.bulk_request_list(user=request.user).filter(pk=pk).exists():
            raise NotFoundError("bulk.not_found", "批量分析申请不存在")
        data = BulkDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decided = bulk.bulk_request_decide(
            actor=request.user,
            bulk_request_id=pk,
            approve=decision == "approve",
            **data.validated_data,
        )
        return Response(BulkRequestSerializer(decided).data)


class BulkRequestDownloadApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD

    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV 导出"),
            (200, "application/jsonl"): OpenApiResponse(OpenApiTypes.STR, description="JSONL 导出"),
            409: ErrorSerializer,
        },
        parameters=[ID_PARAM],
        summary="下载已批准的批量分析导出（限申请单位，过期失效，下载留痕）",
    )
    def get(self, request: AuthenticatedRequest, request_id: str) -> Any:
        found, path = bulk.bulk_download(user=request.user, bulk_request_id=_uuid(request_id))
        return bulk_file_response(found, path)
