"""Rectification notices at the hub: reads are declarative, each step is one service call."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from provincial_hub.compliance import selectors, services
from provincial_hub.compliance.api.serializers import (
    CriticismSerializer,
    EvaluationRunSerializer,
    NoticeAnswerSerializer,
    NoticeDecisionSerializer,
    NoticeIssueSerializer,
    NoticeSerializer,
    TimelinessSerializer,
)
from provincial_hub.compliance.models import EvaluationRun, RectificationNotice
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.permissions import IsLibraryAdminOrSupervisor
from shared.core.api.schema import ErrorSerializer
from shared.domain.notices import StepKind

STEP_ERRORS = {403: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer}


class NoticeFilterSet(django_filters.FilterSet):
    agency_code = django_filters.CharFilter(field_name="agency__code")
    escalated = django_filters.BooleanFilter(
        field_name="escalated_at", lookup_expr="isnull", exclude=True
    )
    issued_after = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__gte")
    issued_before = django_filters.DateFilter(field_name="issued_at", lookup_expr="date__lte")

    class Meta:
        model = RectificationNotice
        fields = ["state", "rule", "city_code", "agency_code", "automatic", "period"]


class NoticeListApi(generics.ListAPIView):
    serializer_class = NoticeSerializer
    filterset_class = NoticeFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # OpenAPI generation: no user, no rows
            return RectificationNotice.objects.none()
        return selectors.notice_list(user=authenticated(self.request).user)

    @extend_schema(
        responses={200: NoticeSerializer(many=True), 403: ErrorSerializer},
        summary="整改通知列表（监管人员与库管理员查看全部；省级单位人员查看本单位）",
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=NoticeIssueSerializer,
        responses={201: NoticeSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        summary="监管人员下发整改通知",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        services.require_supervisor(request.user)
        data = NoticeIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        code = values.get("agency_code") or ""
        notice = services.notice_issue(
            actor=request.user,
            rule=values["rule"],
            agency=services.agency_for_notice(code=code) if code else None,
            city_code=values.get("city_code", ""),
            summary=values["summary"],
            findings=values.get("findings") or {},
        )
        notice = selectors.notice_get(user=request.user, notice_id=notice.pk)
        return Response(NoticeSerializer(notice).data, status=status.HTTP_201_CREATED)


class NoticeDetailApi(APIView):
    @extend_schema(responses={200: NoticeSerializer, 403: ErrorSerializer}, summary="整改通知详情")
    def get(self, request: AuthenticatedRequest, notice_id: str) -> Response:
        notice = selectors.notice_get(user=request.user, notice_id=notice_id)
        return Response(NoticeSerializer(notice).data)


class NoticeDecisionApi(APIView):
    """Accept or reopen: `kind` is fixed per route."""

    kind: StepKind = StepKind.accept

    @extend_schema(
        request=NoticeDecisionSerializer,
        responses={200: NoticeSerializer, **STEP_ERRORS},
        summary="监管人员验收（关闭）或退回整改通知",
    )
    def post(self, request: AuthenticatedRequest, notice_id: str) -> Response:
        services.require_supervisor(request.user)
        data = NoticeDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.notice_decide(
            actor=request.user,
            notice_id=notice_id,
            kind=self.kind,
            reason=data.validated_data["reason"],
        )
        notice = selectors.notice_get(user=request.user, notice_id=notice_id)
        return Response(NoticeSerializer(notice).data)


class NoticeAnswerApi(APIView):
    @extend_schema(
        request=NoticeAnswerSerializer,
        responses={200: NoticeSerializer, **STEP_ERRORS},
        summary="省级单位答复整改情况（市级单位在本市节点答复）",
    )
    def post(self, request: AuthenticatedRequest, notice_id: str) -> Response:
        # Visibility first: a notice the caller cannot read is one that does not exist.
        selectors.notice_get(user=request.user, notice_id=notice_id)
        data = NoticeAnswerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.notice_answer(
            notice_id=notice_id, text=data.validated_data["text"], actor=request.user
        )
        notice = selectors.notice_get(user=request.user, notice_id=notice_id)
        return Response(NoticeSerializer(notice).data)


class EvaluationRunListApi(generics.ListAPIView):
    permission_classes = [IsLibraryAdminOrSupervisor]
    serializer_class = EvaluationRunSerializer
    queryset = EvaluationRun.objects.all()

    @extend_schema(summary="每日合规考核记录（各规则发现的问题与生成的整改通知数）")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class TimelinessApi(APIView):
    permission_classes = [IsLibraryAdminOrSupervisor]

    @extend_schema(
        responses=TimelinessSerializer,
        summary="汇聚及时性：近期各市、各签发单位汇聚的证照数与超时数（第十四条）",
    )
    def get(self, request: Request) -> Response:
        return Response(TimelinessSerializer(selectors.timeliness()).data)


class CriticismListApi(generics.ListAPIView):
    """Public (art. 33): no sign-in, no internal findings."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = CriticismSerializer

    def get_queryset(self):
        return selectors.criticism_list()

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = [selectors.criticism_row(n) for n in (page or [])]
        return self.get_paginated_response(CriticismSerializer(rows, many=True).data)

    @extend_schema(summary="通报批评（公开）：逾期未整改的单位")
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)
