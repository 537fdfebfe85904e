"""Endpoints only a node serves, called by the hub (signed by it, not by users)."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from municipal_node.uplink import files
from shared.core.api.schema import ErrorSerializer
from shared.federation.api.serializers import ResendRequestSerializer, ResendResponseSerializer
from shared.federation.api.views import PEER_ERRORS, PeerOnlyApi
from shared.federation.auth import authenticate_peer
from shared.federation.outbox import license_resend, type_resend
from shared.files.api.binary import PdfRenderer


class ResendApi(PeerOnlyApi):
    @extend_schema(
        request=ResendRequestSerializer,
        responses={200: ResendResponseSerializer, **PEER_ERRORS},
        summary="省级枢纽请求节点重发证照及证照类型（对账修复）",
    )
    def post(self, request: Request) -> Response:
        sender = authenticate_peer(request, expected_sender=settings.FEDERATION_HUB_CODE)
        data = ResendRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        queued = license_resend(stream=sender, keys=data.validated_data["keys"])
        types = type_resend(stream=sender, type_codes=data.validated_data["types"])
        return Response({"queued": queued, "types_queued": types})


class NodeFileApi(PeerOnlyApi):
    """The hub fetches a city's licence file by its SM3 digest (files travel by digest)."""

    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "签章文件"),
            **PEER_ERRORS,
            404: ErrorSerializer,
        },
        summary="省级枢纽按摘要获取本库签章文件（交换签名令牌）",
    )
    def get(self, request: Request, sm3: str) -> HttpResponse:
        authenticate_peer(request, expected_sender=settings.FEDERATION_HUB_CODE)
        data, content_type = files.node_file_get(sm3=sm3)
        response = HttpResponse(data, content_type=content_type)
        response["Content-Length"] = str(len(data))
        response["Cache-Control"] = "private, no-transform"
        return response
