"""Files and verification over API v1 (sharing is `shared.files.api.share`). Thin: each view
parses, calls one service or selector, and answers.

Every refusal at the authenticated endpoints here (403, 404, 400, 409 …) is an access record
written before the error answer leaves (`RecordedRefusalsMixin`), as at /share/query/; a 401 is
counted per minute instead (anonymous noise). Every file handed out (file.pdf, file.ofd,
qr.png, a QR token, archive.zip, a copy) is an access record too (`download_record`)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access.api.views import RecordedRefusalsMixin
from shared.access.models import AccessRecord
from shared.accounts.requests import AuthenticatedRequest, authenticated
from shared.core.api.parsers import MultiPartParser
from shared.core.api.permissions import LICENCE_USERS
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import NotFoundError, PermanentError
from shared.crypto.qr import qr_png
from shared.domain.status import UNRELEASED
from shared.files import archive, documents, selectors, services, storage, verification
from shared.files.access import download_record
from shared.files.api.binary import (
    OfdRenderer,
    PdfRenderer,
    PngRenderer,
    ZipRenderer,
    binary_response,
    pdf_name,
)
from shared.files.api.serializers import (
    LegacyIssueSerializer,
    LicenseFileSerializer,
    PublicVerifySerializer,
    QrTokenSerializer,
)
from shared.files.models import LicenseFile
from shared.files.statuslists import TTL_SECONDS, status_list_build
from shared.licenses import lookups
from shared.licenses import selectors as license_selectors
from shared.licenses.api.serializers import LicenseIssueSerializer, LicenseSerializer
from shared.licenses.models import License, LicenseVersion

ERRORS = {404: ErrorSerializer, 409: ErrorSerializer}
Operation = AccessRecord.Operation


# --- per-licence routes (wired in shared/licenses/api/urls.py) -----------------------------


class LicenseFilePdfApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "签章 PDF（PAdES）"),
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, "文件生成中、生成失败或证照未生效"),
        },
        summary="证照签章文件（PDF，可用任一版本的标识）",
    )
    def get(self, request: AuthenticatedRequest, identifier: str) -> HttpResponse:
        lic = license_selectors.license_get(user=request.user, identifier=identifier)
        row = selectors.file_for_download(lic=lic, identifier=identifier)
        data = storage.read(row.path)
        download_record(user=request.user, license=lic, file="file.pdf", identifier=identifier)
        return binary_response(data, "application/pdf", pdf_name(identifier))


class LicenseFileOfdApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD
    renderer_classes = [JSONRenderer, OfdRenderer]

    @extend_schema(
        responses={
            (200, "application/ofd"): OpenApiResponse(
                OpenApiTypes.BINARY, "OFD 版式文件（GB/T 33190），GB/T 38540 电子签章（SM2/SM3）"
            ),
            404: ErrorSerializer,
            409: OpenApiResponse(ErrorSerializer, "文件生成中、生成失败或证照未生效"),
        },
        summary="证照 OFD 文件（GB/T 38540 电子印章，SM2/SM3；首次请求时生成，可用任一版本的标识）",
    )
    def get(self, request: AuthenticatedRequest, identifier: str) -> HttpResponse:
        lic = license_selectors.license_get(user=request.user, identifier=identifier)
        found = selectors.file_for_download(lic=lic, identifier=identifier)
        if not isinstance(found, LicenseFile):
            # At the hub a city licence's file is the node's PDF, fetched by digest: the OFD is
            # made and kept at the node only.
            raise NotFoundError(
                "file.ofd_not_held", "本库只保存该证照的 PDF 文件，OFD 文件请向来源库获取"
            )
        row = services.license_file_ofd(row=found)
        name = storage.safe_name(identifier) + ".ofd"
        data = storage.read(row.ofd_path)
        download_record(user=request.user, license=lic, file="file.ofd", identifier=identifier)
        return binary_response(data, "application/ofd", name)


class LicenseQrPngApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD
    renderer_classes = [JSONRenderer, PngRenderer]

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, "含新签发令牌的二维码"),
            **ERRORS,
        },
        summary="证照二维码（每次生成新的限时令牌）",
    )
    def get(self, request: AuthenticatedRequest, identifier: str) -> HttpResponse:
        lic = license_selectors.license_get(user=request.user, identifier=identifier)
        qr = _fresh_qr(lic, identifier)
        data = qr_png(qr.url)
        download_record(user=request.user, license=lic, file="qr.png", identifier=identifier)
        return binary_response(data, "image/png", "qr.png", cache="no-store")


def _fresh_qr(lic: License, identifier: str) -> documents.QrToken:
    if lic.status in UNRELEASED:
        raise PermanentError("qr.not_released", "证照尚未生效，不能生成二维码", status=409)
    version = LicenseVersion.objects.get(license=lic, **lookups.version_terms(identifier))
    return documents.qr_token_issue(lic=lic, version=version)


class LicenseQrTokenApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD

    @extend_schema(
        request=None,
        responses={201: QrTokenSerializer, **ERRORS},
        summary="为出示的证照签发新的二维码令牌（打印的二维码按设计会过期）",
    )
    def post(self, request: AuthenticatedRequest, identifier: str) -> Response:
        lic = license_selectors.license_get(user=request.user, identifier=identifier)
        qr = _fresh_qr(lic, identifier)
        download_record(user=request.user, license=lic, file="qr-token", identifier=identifier)
        body = {
            "token": qr.token,
            "url": qr.url,
            "issued_at": qr.issued_at,
            "expires_at": qr.expires_at,
        }
        return Response(QrTokenSerializer(body).data, status=status.HTTP_201_CREATED)


class LicenseArchiveApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD
    renderer_classes = [JSONRenderer, ZipRenderer]

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, "归档包"),
            **ERRORS,
        },
        summary="证照归档包（签章文件、元数据 JSON/XML、事件、验证报告、SM3 清单、打印件）",
    )
    def get(self, request: AuthenticatedRequest, identifier: str) -> HttpResponse:
        lic = license_selectors.license_get(user=request.user, identifier=identifier)
        data = archive.archive_build(lic=lic)
        # The package carries the holder's full code (GB/T 36903 metadata): every one handed
        # out is an access record on the licence.
        download_record(user=request.user, license=lic, file="archive.zip")
        response = binary_response(
            data, "application/zip", storage.safe_name(lic.identifier) + ".zip"
        )
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "inline", "attachment"
        )
        return response


# --- public ------------------------------------------------------------------------------


class PublicVerifyApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: PublicVerifySerializer}, summary="扫码核验（公开）")
    def get(self, request: Request, token: str) -> Response:
        return Response(verification.token_check(token).as_dict())

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # Every QR scan lands here (issue #16 item 7): a GET answers without DRF's request
        # wrapper, negotiation and response rendering — the same renderer, the same bytes —
        # which were most of a remembered scan's cost. Other methods, and any error (answered
        # in the one error shape by DRF's handler), take DRF's way.
        if request.method != "GET":
            return super().dispatch(request, *args, **kwargs)
        try:
            answer = verification.token_check(kwargs["token"]).as_dict()
        except Exception:  # noqa: BLE001 - re-raised through DRF's handler below
            return super().dispatch(request, *args, **kwargs)
        return HttpResponse(JSONRenderer().render(answer), content_type="application/json")


class TrustListApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, "签名的信任列表")},
        summary="信任列表：根证书、电子印章证书、令牌密钥（公开，可离线验证）",
    )
    def get(self, request: Request) -> Response:
        response = Response(verification.trust_list_build())
        response["Cache-Control"] = "public, max-age=300"
        return response


class StatusListApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, "签名的位串状态列表"),
            304: OpenApiResponse(description="未变化"),
            404: ErrorSerializer,
        },
        summary="证照状态列表（W3C Bitstring Status List 方式，公开）",
    )
    def get(self, request: Request, issuer_code: str, purpose: str) -> Response:
        signed = status_list_build(issuer_code=issuer_code, purpose=purpose)
        etag = f'"{signed.etag}"'
        if request.headers.get("If-None-Match") == etag:
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
        else:
            response = Response({"credential": signed.credential, "token": signed.token})
        response["ETag"] = etag
        response["Cache-Control"] = f"public, max-age={TTL_SECONDS}"
        return response


# --- operator and issuer tools -------------------------------------------------------------


class LicenseFileListApi(generics.ListAPIView):
    permission_classes = LICENCE_USERS
    serializer_class = LicenseFileSerializer
    filterset_fields = ["state", "variant"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return LicenseFile.objects.none()
        return selectors.file_list(user=authenticated(self.request).user)


class LicenseFileRetryApi(APIView):
    permission_classes = LICENCE_USERS

    @extend_schema(
        request=None,
        responses={200: LicenseFileSerializer, 404: ErrorSerializer},
        summary="重试生成失败的证照文件",
    )
    def post(self, request: AuthenticatedRequest, file_id: int) -> Response:
        row = selectors.file_list(user=request.user).filter(pk=file_id).first()
        if row is None:
            raise NotFoundError("file.not_found", "证照文件不存在")
        return Response(LicenseFileSerializer(services.license_file_retry(file_id=row.pk)).data)


class LegacyIssueApi(APIView):
    permission_classes = LICENCE_USERS
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": LegacyIssueSerializer},
        responses={201: LicenseSerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="存量证照电子化：上传扫描件与元数据，以 legacy 方式签发并签章",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = LegacyIssueSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        metadata = data.validated_data["metadata"]
        if not isinstance(metadata, dict):
            raise PermanentError(
                "legacy.metadata", "metadata 必须是 JSON 对象", {"field": "metadata"}
            )
        fields = LicenseIssueSerializer(data={**metadata, "mode": "legacy"})
        fields.is_valid(raise_exception=True)
        upload = data.validated_data["scan"]
        from django.conf import settings

        if upload.size > settings.FILES_UPLOAD_MAX_BYTES:
            raise PermanentError(
                "file.too_large", "文件过大", {"max_bytes": settings.FILES_UPLOAD_MAX_BYTES}
            )
        lic = services.legacy_issue(
            actor=request.user,
            scan=upload.read(),
            content_type=(upload.content_type or "").split(";")[0].strip(),
            original_name=upload.name or "",
            values=dict(fields.validated_data),
        )
        return Response(LicenseSerializer(lic).data, status=status.HTTP_201_CREATED)
