"""Licence API: reads are declarative, every write is one service call."""

import json
import uuid

import django_filters
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.permissions import LICENCE_USERS
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import NotFoundError
from shared.core.holder_codes import holder_code_digests
from shared.domain.status import TRANSITIONS, Action
from shared.licenses import batches, issuing, lookups, selectors, services
from shared.licenses.api.serializers import (
    BatchCreateSerializer,
    BatchSerializer,
    LicenseActionResultSerializer,
    LicenseActionSerializer,
    LicenseEventSerializer,
    LicenseIssueSerializer,
    LicenseSerializer,
    LicenseVersionSerializer,
    license_data,
)
from shared.licenses.models import Batch, License
from shared.licenses.validation import Holder

# Actions a person may call over the API; `expire` belongs to the clock, `inspect` to the
# annual inspection workflow (`/api/v1/inspections/{id}/approve/`).
API_ACTIONS = [a.value for a in TRANSITIONS if a not in (Action.expire, Action.inspect)]


class LicenseFilterSet(django_filters.FilterSet):
    type_code = django_filters.CharFilter(field_name="license_type__type_code")
    # Codes are stored encrypted: match on the keyed digest of the code as given.
    holder_code = django_filters.CharFilter(method="filter_holder_code")
    issued_after = django_filters.DateFilter(field_name="issue_date", lookup_expr="gte")
    issued_before = django_filters.DateFilter(field_name="issue_date", lookup_expr="lte")

    class Meta:
        model = License
        fields = ["status", "mode", "type_code", "holder_code", "pledged"]

    def filter_holder_code(self, queryset, name, value):
        codes = {value.strip(), value.strip().upper()}  # USCCs and IDs are stored upper-case
        return queryset.filter(
            **lookups.holder_terms([d for c in codes for d in holder_code_digests(c)])
        )


class LicenseListApi(generics.ListAPIView):
    permission_classes = LICENCE_USERS
    serializer_class = LicenseSerializer
    filterset_class = LicenseFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return License.objects.none()
        return selectors.license_list(user=authenticated(self.request).user)

    @extend_schema(
        request=LicenseIssueSerializer,
        # 404: no such type; 409: the type is not published.
        responses={201: LicenseSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="签发证照",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = LicenseIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lic = issuing.license_issue(
            actor=request.user,
            holder=Holder(**values.pop("holder")),
            **values,
        )
        return Response(license_data(lic), status=status.HTTP_201_CREATED)


class LicenseDetailApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(responses=LicenseSerializer, summary="证照详情（可用任一版本的标识）")
    def get(self, request: AuthenticatedRequest, identifier: str) -> Response:
        lic = selectors.license_get(user=request.user, identifier=identifier)
        return Response(license_data(lic))


class LicenseVersionListApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(responses=LicenseVersionSerializer(many=True), summary="证照版本")
    def get(self, request: AuthenticatedRequest, identifier: str) -> Response:
        lic = selectors.license_get(user=request.user, identifier=identifier)
        versions = selectors.license_versions(license=lic).select_related("license")
        return Response(LicenseVersionSerializer(versions, many=True).data)


class LicenseEventListApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(responses=LicenseEventSerializer(many=True), summary="证照事件")
    def get(self, request: AuthenticatedRequest, identifier: str) -> Response:
        lic = selectors.license_get(user=request.user, identifier=identifier)
        events = selectors.license_events(license=lic)
        return Response(LicenseEventSerializer(events, many=True).data)


class LicenseActionApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(
        request=LicenseActionSerializer,
        # 409: illegal transition, pledge state or `expected_version` conflict.
        responses={200: LicenseActionResultSerializer, 409: ErrorSerializer},
        parameters=[
            OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH, enum=API_ACTIONS)
        ],
        summary="证照操作：审核通过、退回、延续、变更、暂扣、恢复、吊销、撤销、注销、质押、解除质押",
    )
    def post(self, request: AuthenticatedRequest, identifier: str, action: str) -> Response:
        if action not in API_ACTIONS:
            raise NotFoundError("license.action_unknown", "不支持的证照操作", {"action": action})
        # Existence and visibility first, so another agency learns nothing from a 400.
        selectors.license_get(user=request.user, identifier=identifier)
        data = LicenseActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["valid_to_given"] = "valid_to" in values
        lic, event = services.license_act(
            actor=request.user, identifier=identifier, action=Action(action), **values
        )
        body = {"license": license_data(lic), "event": LicenseEventSerializer(event).data}
        return Response(body)


class BatchListApi(generics.ListAPIView):
    permission_classes = LICENCE_USERS
    serializer_class = BatchSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return Batch.objects.none()
        return selectors.batch_list(user=authenticated(self.request).user).select_related("issuer")

    @extend_schema(
        request=BatchCreateSerializer,
        responses={202: BatchSerializer},
        summary="批量签发（异步，返回进度）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = BatchCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = json.loads(json.dumps(data.validated_data["items"], cls=DjangoJSONEncoder))
        batch = batches.batch_create(
            actor=request.user, mode=data.validated_data["mode"], items=items
        )
        return Response(
            BatchSerializer(batch, context={"detail": True}).data, status=status.HTTP_202_ACCEPTED
        )


class BatchDetailApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(
        responses=BatchSerializer,
        parameters=[OpenApiParameter("batch_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        summary="批量任务进度",
    )
    def get(self, request: AuthenticatedRequest, batch_id: str) -> Response:
        try:
            pk = uuid.UUID(batch_id)
        except ValueError:
            pk = None  # not an id at all: nothing by that name
        batch = selectors.batch_list(user=request.user).filter(pk=pk).first() if pk else None
        if batch is None:
            raise NotFoundError("batch.not_found", "批量任务不存在")
        return Response(BatchSerializer(batch, context={"detail": True}).data)
