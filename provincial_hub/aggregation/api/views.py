"""The hub operators' view of aggregation: every city, and the city files fetched."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from provincial_hub.aggregation import files, selectors, trust
from provincial_hub.aggregation.api.serializers import (
    AggregationNodeSerializer,
    RemoteFileRetrySerializer,
    RemoteFileSerializer,
)
from shared.core.api.permissions import IsLibraryAdmin, IsLibraryAdminOrSupervisor
from shared.federation.api.serializers import OutboxRetryResultSerializer


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
