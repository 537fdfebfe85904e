"""The hub operators' view of aggregation: every city, and the city files fetched."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from provincial_hub.aggregation import files, recovery, selectors, share, trust
from provincial_hub.aggregation.api.serializers import (
    AggregationNodeSerializer,
    ForwardedQuerySerializer,
    ForwardedVerifySerializer,
    RemoteFileRetrySerializer,
    RemoteFileSerializer,
)
from shared.access.api.serializers import ShareQueryResultSerializer
from shared.core.api.permissions import IsLibraryAdmin, IsLibraryAdminOrSupervisor
from shared.federation.api.serializers import OutboxRetryResultSerializer
from shared.federation.api.views import PEER_ERRORS, PeerOnlyApi
from shared.federation.auth import authenticate_peer
from shared.files.api.serializers import ShareVerifyResultSerializer

CALLER = ("agency", "user", "city_grants")


class AggregationNodesApi(APIView):
    permission_classes = [IsLibraryAdminOrSupervisor]  # the supervisor reads timeliness too

    @extend_schema(
        responses={200: AggregationNodeSerializer(many=True)},
        summary="各市汇聚情况：最近事件、时延、积压、失败、逾期、最近对账",
    )
    def get(self, request: Request) -> Response:
        return Response(AggregationNodeSerializer(selectors.aggregation_nodes(), many=True).data)


class RemoteFileListApi(generics.ListAPIView):
    permission_classes = [IsLibraryAdmin]
    serializer_class = RemoteFileSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("node", OpenApiTypes.STR),
            OpenApiParameter("state", OpenApiTypes.STR),
        ],
        summary="城市签章文件的获取情况（按摘要获取）",
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        params = self.request.query_params
        return selectors.remote_file_list(node=params.get("node"), state=params.get("state"))


class RemoteFileRetryApi(APIView):
    permission_classes = [IsLibraryAdmin]

    @extend_schema(
        request=RemoteFileRetrySerializer,
        responses={200: OutboxRetryResultSerializer},
        summary="重试获取失败的城市签章文件",
    )
    def post(self, request: Request) -> Response:
        data = RemoteFileRetrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        count = files.remote_file_retry(
            node=data.validated_data.get("node"), ids=data.validated_data.get("ids")
        )
        return Response({"retried": count})


class ForwardedShareQueryApi(PeerOnlyApi):
    """A city node forwards its consumer's purpose-bound query (signed by the node)."""

    @extend_schema(
        request=ForwardedQuerySerializer,
        responses={200: ShareQueryResultSerializer, **PEER_ERRORS, 429: OpenApiTypes.OBJECT},
        summary="市级节点转发的用证查询（节点签名；按全省授权或可认可的市级授权在汇聚库中查询并留痕）",
    )
    def post(self, request: Request) -> Response:
        sender = authenticate_peer(request)
        data = ForwardedQuerySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("scope", None)
        return Response(share.forwarded_query(sender=sender, **values))


class ForwardedShareVerifyApi(PeerOnlyApi):
    """A city node forwards its consumer's purpose-bound verify (signed by the node)."""

    @extend_schema(
        request=ForwardedVerifySerializer,
        responses={200: ShareVerifyResultSerializer, **PEER_ERRORS, 429: OpenApiTypes.OBJECT},
        summary="市级节点转发的证照验证与比对（节点签名；在汇聚库中验证并留痕）",
    )
    def post(self, request: Request) -> Response:
        sender = authenticate_peer(request)
        data = ForwardedVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        caller = {k: values.pop(k) for k in CALLER}
        return Response(share.forwarded_verify(sender=sender, values=values, **caller))


class ProvincialTrustListApi(APIView):
    """The provincial trust list: every library's token keys, seal certificates, SM2 seals and
    revocations, signed with the hub's federation key (public: it holds only public keys)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "全省信任列表（省级库签名）")},
        summary="全省信任列表：各证照库的令牌密钥、印章证书、SM2 印章与吊销（省级库交换密钥签名）",
    )
    def get(self, request: Request) -> Response:
        response = Response(trust.trust_list_published())
        response["Cache-Control"] = "public, max-age=60"
        return response


class RecoverApi(PeerOnlyApi):
    """A city restored from an older dump takes back its licences from the hub's copy."""

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, **PEER_ERRORS},
        summary="恢复后的市级库取回本市证照（省级库所存副本）",
    )
    def post(self, request: Request) -> Response:
        city = authenticate_peer(request)
        keys = request.data.get("keys") if isinstance(request.data, dict) else None
        licences = recovery.city_licences_return(city=city, keys=keys)
        return Response({"licences": licences})
