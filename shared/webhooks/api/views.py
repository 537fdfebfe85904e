"""Webhook API: subscribe, list, delete; the events and their attempts; the operator's retry.
Thin: parse, call one service or selector, serialise. Refusals are access records
(`RecordedRefusalsMixin`, operation `subscribe`)."""

import django_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access.api.views import RecordedRefusalsMixin
from shared.access.keys import log_key_id, log_public_key_pem
from shared.access.models import AccessRecord
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.permissions import LICENCE_USERS, IsLibraryAdmin
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import NotFoundError
from shared.webhooks import deliveries, selectors, subscriptions
from shared.webhooks.api.serializers import (
    RetrySerializer,
    SigningKeySerializer,
    SubscriptionCreatedSerializer,
    SubscriptionCreateSerializer,
    SubscriptionSerializer,
    WebhookEventSerializer,
)
from shared.webhooks.models import Subscription, WebhookEvent


class SubscriptionListApi(RecordedRefusalsMixin, generics.ListAPIView):
    permission_classes = LICENCE_USERS
    access_operation = AccessRecord.Operation.SUBSCRIBE
    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Subscription.objects.none()
        return selectors.subscription_list(user=authenticated(self.request).user)

    @extend_schema(summary="本单位的证照状态变更订阅（库管理员：全部）")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=SubscriptionCreateSerializer,
        responses={
            201: SubscriptionCreatedSerializer,
            404: ErrorSerializer,
            409: ErrorSerializer,
        },
        summary="订阅一个本单位依法使用过的证照的状态变更（用证留痕）",
        description=(
            "需要该证照类型和事项的有效用证授权，且本单位曾在该事项下使用过此证照（查询、验证、"
            "比对、加注件或下载的用证记录）；否则 403（`access.no_grant`、`webhook.not_used`），"
            "不创建订阅。订阅本身写入用证记录（操作 `subscribe`）。共享密钥 `secret` 只在此应答中"
            "返回一次。投递格式、签名与重试见 docs/webhooks.md。"
        ),
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = SubscriptionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        sub = subscriptions.subscription_create(
            actor=request.user,
            identifier=values["identifier"],
            matter_code=values["matter_code"],
            use_cause=values["use_cause"],
            target_url=values["target_url"],
            signing_choice=values["signing"],
        )
        return Response(SubscriptionCreatedSerializer(sub).data, status=status.HTTP_201_CREATED)


class SubscriptionDetailApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = AccessRecord.Operation.SUBSCRIBE

    @extend_schema(
        request=None,
        responses={204: None},
        parameters=[OpenApiParameter("subscription_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        summary="删除订阅（待投递的事件随之取消；用证留痕）",
    )
    def delete(self, request: AuthenticatedRequest, subscription_id: str) -> Response:
        if not subscription_id.isdigit():
            raise NotFoundError("webhook.not_found", "订阅不存在")
        subscriptions.subscription_delete(actor=request.user, subscription_id=int(subscription_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEventFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=WebhookEvent.State.choices)

    class Meta:
        model = WebhookEvent
        fields = ["state"]


class WebhookEventListApi(generics.ListAPIView):
    permission_classes = LICENCE_USERS
    serializer_class = WebhookEventSerializer
    filterset_class = WebhookEventFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WebhookEvent.objects.none()
        events = selectors.webhook_event_list(user=authenticated(self.request).user)
        return events.prefetch_related("deliveries")

    @extend_schema(summary="Webhook 事件及每次投递尝试（本单位的；库管理员：全部）")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class WebhookRetryApi(APIView):
    permission_classes = [IsLibraryAdmin]

    @extend_schema(
        request=RetrySerializer,
        responses={200: OpenApiTypes.OBJECT},
        summary="重试投递失败（死信）的 Webhook 事件（库管理员）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = RetrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data.get("event_ids")
        count = deliveries.webhook_retry(
            actor=request.user, event_ids=[str(i) for i in ids] if ids is not None else None
        )
        return Response({"retried": count})


class SigningKeyApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(
        responses={200: SigningKeySerializer},
        summary="本库的 Webhook SM2 验签公钥（签名方式 sm2-sm3）",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        body = {"algorithm": "SM2-SM3", "key_id": log_key_id(), "public_key": log_public_key_pem()}
        return Response(SigningKeySerializer(body).data)
