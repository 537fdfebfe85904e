"""The licence catalogue API: read declaratively, write through services."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.catalog import selectors, services
from shared.catalog.api.serializers import (
    LicenseTypeCreateSerializer,
    LicenseTypeSerializer,
    LicenseTypeUpdateSerializer,
)
from shared.catalog.models import LicenseType
from shared.core.api.schema import ErrorSerializer


class LicenseTypeFilterSet(django_filters.FilterSet):
    issuer_code = django_filters.CharFilter(field_name="issuer__code")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = LicenseType
        fields = ["state", "holder_category", "requires_review", "issuer_code", "name"]


class LicenseTypeViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = LicenseTypeSerializer
    filterset_class = LicenseTypeFilterSet
    lookup_field = "type_code"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return LicenseType.objects.none()
        return selectors.license_type_list(user=authenticated(self.request).user)

    @extend_schema(
        request=LicenseTypeCreateSerializer,
        responses={201: LicenseTypeSerializer, 409: ErrorSerializer},
        summary="登记证照类型（草稿）",
    )
    def create(self, request: AuthenticatedRequest) -> Response:
        data = LicenseTypeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        license_type = services.license_type_create(actor=request.user, **data.validated_data)
        return Response(LicenseTypeSerializer(license_type).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=LicenseTypeUpdateSerializer,
        responses={200: LicenseTypeSerializer, 409: ErrorSerializer},
        summary="修改证照类型",
    )
    def partial_update(self, request: AuthenticatedRequest, type_code: str) -> Response:
        data = LicenseTypeUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        license_type = services.license_type_update(
            actor=request.user, license_type=self.get_object(), **data.validated_data
        )
        return Response(LicenseTypeSerializer(license_type).data)

    @extend_schema(
        request=None,
        responses={200: LicenseTypeSerializer, 409: ErrorSerializer},
        summary="发布证照类型",
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: AuthenticatedRequest, type_code: str) -> Response:
        license_type = services.license_type_publish(
            actor=request.user, license_type=self.get_object()
        )
        return Response(LicenseTypeSerializer(license_type).data)

    @extend_schema(
        request=None,
        responses={200: LicenseTypeSerializer, 409: ErrorSerializer},
        summary="停用证照类型",
    )
    @action(detail=True, methods=["post"])
    def retire(self, request: AuthenticatedRequest, type_code: str) -> Response:
        license_type = services.license_type_retire(
            actor=request.user, license_type=self.get_object()
        )
        return Response(LicenseTypeSerializer(license_type).data)
