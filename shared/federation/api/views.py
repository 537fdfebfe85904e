"""Exchange endpoints (signed by libraries, not by users) and the operators' delivery console."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.core.api.parsers import EnvelopeParser
from shared.core.api.permissions import IsLibraryAdmin
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import ApplicationError, PermanentError
from shared.federation import relay, selectors
from shared.federation.api.parsers import SignedEnvelopeParser
from shared.federation.api.serializers import (
    DigestRequestSerializer,
    DigestResponseSerializer,
    IngestAckSerializer,
    OutboxEventSerializer,
    OutboxRetryResultSerializer,
    OutboxRetrySerializer,
    ReconcileRunSerializer,
    ReconcileStartSerializer,
    StatusSerializer,
    StreamSummarySerializer,
)
from shared.federation.auth import authenticate_peer
from shared.federation.ingest import ingest_envelope
from shared.federation.models import InboundCursor, ReconcileRun
from shared.federation.reconciliation import digests_for

# Calls between libraries: bad input, no or bad signature, a signer that may not ask this.
PEER_ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer}


class PeerOnlyApi(APIView):
    """Called by other libraries: authenticated by signatures, not by user tokens."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class EnvelopeApi(PeerOnlyApi):
    parser_classes = [SignedEnvelopeParser, EnvelopeParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: IngestAckSerializer, **PEER_ERRORS, 409: ErrorSerializer},
        summary="接收交换信封（节点签名）",
    )
    def post(self, request: Request) -> Response:
        result = ingest_envelope(request.data)
        return Response(
            {
                "high_water_mark": result.high_water_mark,
                "applied": result.applied,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
                "request_ids": result.request_ids,
            }
        )


class StatusApi(PeerOnlyApi):
    @extend_schema(
        parameters=[OpenApiParameter("node", OpenApiTypes.STR, required=True)],
        responses={200: StatusSerializer, **PEER_ERRORS},
        summary="发送方续传位置（高水位）",
    )
    def get(self, request: Request) -> Response:
        node = request.query_params.get("node", "")
        if not node:
            raise PermanentError("exchange.node_required", "缺少 node 参数")
        authenticate_peer(request, expected_sender=node)
        cursor = InboundCursor.objects.filter(sender=node).first()
        return Response({"node": node, "high_water_mark": cursor.high_water_mark if cursor else 0})


class DigestsApi(PeerOnlyApi):
    # The hub serves each city the digests of that city's licences (the sender's scope); a
    # node serves its own, and to the hub also those of the hub's licences it holds. The tier's URLconf says which (`as_view(scope_is_sender=True)`).
    scope_is_sender = False

    @extend_schema(
        request=DigestRequestSerializer,
        responses={200: DigestResponseSerializer, **PEER_ERRORS},
        summary="对账摘要（按签发单位×月份分桶，逐级细分）",
    )
    def post(self, request: Request) -> Response:
        sender = authenticate_peer(request)
        data = DigestRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scope, kind = data.validated_data["scope"], data.validated_data["kind"]
        allowed = {sender} if self.scope_is_sender else {settings.LIBRARY_CODE}
        if (
            not self.scope_is_sender
            and kind == "licenses"
            and sender == settings.FEDERATION_HUB_CODE
        ):
            # the hub reconciles the licences it pushed down to this city (it owns them)
            allowed.add(sender)
        if scope not in allowed:
            raise ApplicationError("exchange.forbidden", "无权获取该库的摘要", status=403)
        return Response(
            digests_for(
                scope=scope,
                kind=kind,
                **{k: data.validated_data[k] for k in ("level", "prefixes")},
            )
        )


class OutboxListApi(generics.ListAPIView):
    permission_classes = [IsLibraryAdmin]
    serializer_class = OutboxEventSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("stream", OpenApiTypes.STR),
            OpenApiParameter("state", OpenApiTypes.STR),
        ],
        summary="外发事件（投递状态）",
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.outbox_list(stream=params.get("stream"), state=params.get("state"))


class OutboxRetryApi(APIView):
    permission_classes = [IsLibraryAdmin]

    @extend_schema(
        request=OutboxRetrySerializer,
        responses={200: OutboxRetryResultSerializer},
        summary="重试失败或死信的外发事件",
    )
    def post(self, request: Request) -> Response:
        data = OutboxRetrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = relay.outbox_retry(
            actor=request.user,
            stream=data.validated_data.get("stream"),
            ids=data.validated_data.get("ids"),
        )
        from shared.federation.tasks import relay_sweep

        relay_sweep.delay()
        return Response({"retried": count})


class StreamListApi(APIView):
    permission_classes = [IsLibraryAdmin]

    @extend_schema(responses={200: StreamSummarySerializer(many=True)}, summary="各交换流汇总")
    def get(self, request: Request) -> Response:
        return Response(StreamSummarySerializer(selectors.outbox_summary(), many=True).data)


class ReconcileRunListApi(generics.ListAPIView):
    permission_classes = [IsLibraryAdmin]
    serializer_class = ReconcileRunSerializer
    queryset = ReconcileRun.objects.all()

    @extend_schema(
        request=ReconcileStartSerializer,
        responses={202: ReconcileStartSerializer, 404: ErrorSerializer, 503: ErrorSerializer},
        summary="发起对账",
    )
    def post(self, request: Request) -> Response:
        data = ReconcileStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        from shared.federation.keys import peer_get
        from shared.federation.tasks import reconcile_peer

        peer_get(data.validated_data["peer"])
        reconcile_peer.delay(data.validated_data["peer"])
        return Response(data.validated_data, status=status.HTTP_202_ACCEPTED)
