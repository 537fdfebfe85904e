"""Annual inspection API (`/api/v1/inspections/`): reads declarative, each write one service."""

from typing import Any

import django_filters
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.accounts.models import User
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.parsers import MultiPartParser
from shared.core.api.schema import ErrorSerializer
from shared.core.attachments import max_bytes
from shared.core.errors import ForbiddenError
from shared.inspections import selectors, services
from shared.inspections.api.serializers import (
    InspectionApproveSerializer,
    InspectionRefuseSerializer,
    InspectionSerializer,
    InspectionSubmitSerializer,
)
from shared.inspections.models import Inspection

ID_PARAM = OpenApiParameter("inspection_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class InspectionFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=Inspection.State.choices)
    year = django_filters.NumberFilter(field_name="year", min_value=2000, max_value=2199)
    type_code = django_filters.CharFilter(field_name="license_type__type_code")
    late = django_filters.BooleanFilter()

    class Meta:
        model = Inspection
        fields = ["state", "year", "type_code", "late"]


def _verified(user: User) -> None:
    """A holder acts only with the one-time code of this session (art. 29)."""
    if user.is_holder and not getattr(user, "is_verified", lambda: False)():
        raise ForbiddenError("inspection.holder_unverified", "请先在持证人服务中以动态口令登录")


@extend_schema_view(
    get=extend_schema(
        responses={200: InspectionSerializer(many=True), 403: ErrorSerializer},
        summary="年检申请列表：签发单位的待办、持证人本人的申请",
    )
)
class InspectionListApi(generics.ListAPIView):
    serializer_class = InspectionSerializer
    filterset_class = InspectionFilterSet
    parser_classes = [MultiPartParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return Inspection.objects.none()
        user = authenticated(self.request).user
        _verified(user)
        return selectors.inspection_list(user=user).prefetch_related("materials")

    @extend_schema(
        request={"multipart/form-data": InspectionSubmitSerializer},
        # 404: no such licence, or not the caller's; 409: see the service's rules.
        responses={201: InspectionSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="提交网络年检申请（持证人，或签发单位代为提交），附年检材料",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        _verified(request.user)
        data = InspectionSubmitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        limit = max_bytes() + 1  # enough to tell a file too large from one that fits
        files = [(f.name or "", f.read(limit)) for f in values["attachments"]]
        inspection = services.inspection_submit(
            actor=request.user,
            identifier=values["identifier"],
            year=values.get("year"),
            note=values["note"],
            files=files,
        )
        return Response(InspectionSerializer(inspection).data, status=status.HTTP_201_CREATED)


class InspectionDetailApi(APIView):
    @extend_schema(
        responses={200: InspectionSerializer, 403: ErrorSerializer},
        parameters=[ID_PARAM],
        summary="年检申请详情",
    )
    def get(self, request: AuthenticatedRequest, inspection_id: str) -> Response:
        _verified(request.user)
        found = selectors.inspection_get(user=request.user, inspection_id=inspection_id)
        return Response(InspectionSerializer(found).data)


class InspectionMaterialApi(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="材料原件（PDF、JPEG 或 PNG）"
            ),
            403: ErrorSerializer,
        },
        parameters=[ID_PARAM, OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH)],
        summary="下载年检材料（签发单位与持证人）",
    )
    def get(self, request: AuthenticatedRequest, inspection_id: str, index: str) -> Any:
        _verified(request.user)
        number = int(index) if index.isdigit() and len(index) <= 4 else 0
        material = selectors.material_get(
            user=request.user, inspection_id=inspection_id, index=number
        )
        response = HttpResponse(bytes(material.content or b""), content_type=material.content_type)
        extension = material.content_type.rsplit("/", 1)[-1].replace("jpeg", "jpg")
        response["Content-Disposition"] = (
            f'attachment; filename="inspection-{material.inspection_id}-{material.index}.{extension}"'
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


class InspectionApproveApi(APIView):
    @extend_schema(
        request=InspectionApproveSerializer,
        responses={200: InspectionSerializer, 409: ErrorSerializer},
        parameters=[ID_PARAM],
        summary="年检通过：证照记录年检年度；因未年检被暂扣的证照同时恢复",
    )
    def post(self, request: AuthenticatedRequest, inspection_id: str) -> Response:
        data = InspectionApproveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        inspection = services.inspection_approve(
            actor=request.user, inspection_id=inspection_id, **data.validated_data
        )
        return Response(InspectionSerializer(inspection).data)


class InspectionRefuseApi(APIView):
    @extend_schema(
        request=InspectionRefuseSerializer,
        responses={200: InspectionSerializer, 409: ErrorSerializer},
        parameters=[ID_PARAM],
        summary="年检不予通过（须填写原因），持证人可重新提交",
    )
    def post(self, request: AuthenticatedRequest, inspection_id: str) -> Response:
        data = InspectionRefuseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        inspection = services.inspection_refuse(
            actor=request.user, inspection_id=inspection_id, **data.validated_data
        )
        return Response(InspectionSerializer(inspection).data)
