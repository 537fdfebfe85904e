"""The notices of this city's agencies: read them, answer them (the answer goes up to the hub)."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from municipal_node.notices import selectors, services
from municipal_node.notices.api.serializers import CityNoticeSerializer, NoticeAnswerSerializer
from municipal_node.notices.models import Notice
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.schema import ErrorSerializer


class NoticeFilterSet(django_filters.FilterSet):
    agency_code = django_filters.CharFilter(field_name="agency__code")

    class Meta:
        model = Notice
        fields = ["state", "rule", "agency_code"]


class NoticeListApi(generics.ListAPIView):
    serializer_class = CityNoticeSerializer
    filterset_class = NoticeFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return Notice.objects.none()
        return selectors.notice_list(user=authenticated(self.request).user)

    @extend_schema(
        responses={200: CityNoticeSerializer(many=True), 403: ErrorSerializer},
        summary="本单位收到的整改通知（节点管理员查看本市全部）",
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class NoticeDetailApi(APIView):
    @extend_schema(
        responses={200: CityNoticeSerializer, 403: ErrorSerializer}, summary="整改通知详情"
    )
    def get(self, request: AuthenticatedRequest, notice_id: str) -> Response:
        notice = selectors.notice_get(user=request.user, notice_id=notice_id)
        return Response(CityNoticeSerializer(notice).data)


class NoticeAnswerApi(APIView):
    @extend_schema(
        request=NoticeAnswerSerializer,
        responses={200: CityNoticeSerializer, 403: ErrorSerializer, 409: ErrorSerializer},
        summary="答复整改情况（报送省级库）",
    )
    def post(self, request: AuthenticatedRequest, notice_id: str) -> Response:
        # Visibility first: a notice the caller cannot read is one that does not exist.
        selectors.notice_get(user=request.user, notice_id=notice_id)
        data = NoticeAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        notice = services.notice_answer(
            actor=request.user, notice_id=notice_id, text=data.validated_data["text"]
        )
        return Response(CityNoticeSerializer(notice).data)
