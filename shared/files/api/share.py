"""Sharing over API v1 (purpose-bound): verify a licence or a file, make and fetch annotated
copies. Each view calls `authorize_share` exactly once before answering; every refusal is an
access record (`RecordedRefusalsMixin`), as in `shared.files.api.views`."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access.api.views import RecordedRefusalsMixin
from shared.access.models import AccessRecord
from shared.accounts.requests import AuthenticatedRequest
from shared.core.api.parsers import MultiPartParser
from shared.core.api.permissions import LICENCE_USERS
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import ApplicationError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.status import UNRELEASED
from shared.files import selectors, services, storage, verification
from shared.files.access import (
    authorize_share,
    copy_download_authorize,
    download_record,
    forwarding,
    share_forward,
    verify_answer,
)
from shared.files.api.binary import (
    PdfRenderer,
    binary_response,
)
from shared.files.api.serializers import (
    CopyCreateSerializer,
    CopySerializer,
    FileResultSerializer,
    ShareVerifyResultSerializer,
    ShareVerifySerializer,
    VerifyFileSerializer,
)

ERRORS = {404: ErrorSerializer, 409: ErrorSerializer}
Operation = AccessRecord.Operation


class ShareVerifyApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.VERIFY

    @extend_schema(
        request=ShareVerifySerializer,
        responses={200: ShareVerifyResultSerializer},
        summary="证照验证与比对（信息 7 种结果）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = ShareVerifySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version, outcome, early = verification.share_target(values)
        if forwarding(user=request.user, values=values, found=version is not None, hint=outcome):
            # Not held here (or asked province-wide): the hub answers from the aggregate.
            return Response(share_forward(user=request.user, values=values))
        shown = authorize_share(
            user=request.user,
            license=version.license if version else None,
            matter_code=values["matter_code"],
            use_cause=values["use_cause"],
            operation="verify",
        )
        if version is not None and shown is None:  # outside the grants: as if it did not exist
            version, outcome, early = None, "not_found", 5
        body = verify_answer(
            version=version, outcome=outcome, early=early, supplied=values.get("fields") or {}
        )
        return Response(body)


class ShareVerifyFileApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.VERIFY
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": VerifyFileSerializer},
        responses={200: FileResultSerializer},
        summary="证照文件验证（文件 3 种结果 + 信息结果）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = VerifyFileSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        from django.conf import settings

        if upload.size > settings.FILES_UPLOAD_MAX_BYTES:
            raise PermanentError(
                "file.too_large", "文件过大", {"max_bytes": settings.FILES_UPLOAD_MAX_BYTES}
            )
        result = verification.file_verify(upload.read())
        shown = authorize_share(
            user=request.user,
            license=result.version.license if result.version else None,
            matter_code=data.validated_data["matter_code"],
            use_cause=data.validated_data["use_cause"],
            operation="verify_file",
        )
        if result.version is not None and shown is None:  # as if it did not exist
            result = verification.FileVerification(
                check=result.check, version=None, info_code=5, mismatched=[]
            )
        check = result.check
        body = {
            "file_result": {"code": check.code, "message": check.message},
            "info_result": verification.info_result(result.info_code),
            "reason": check.reason,
            "identifier": check.identifier,
            "signer": check.signer,
            "signing_time": check.signing_time,
            "timestamped": check.timestamped,
            # A revoked seal: why the file fails, or that it was sealed before the revocation.
            "seal_note": check.metadata.get("seal_note", ""),
            "license": verification.key_fields(result.version)
            if result.version is not None and check.code == 0
            else None,
        }
        return Response(body)


class CopyListApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.COPY

    @extend_schema(
        request=CopyCreateSerializer,
        responses={201: CopySerializer, 404: ErrorSerializer, 409: ErrorSerializer},
        summary="生成加注件（水印注明用途、用证单位与有效期，重新签章）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = CopyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        version = verification.version_lookup(values["identifier"])
        lic = version.license if version else None
        if lic is not None and lic.status in UNRELEASED:
            lic = None  # an unreleased licence is not shared: it does not exist for the caller
        if request.user.agency_id is None:  # refused (and recorded) before any use is recorded
            raise ForbiddenError("copy.agency_required", "加注件须以用证单位名义申请")
        lic = authorize_share(
            user=request.user,
            license=lic,
            matter_code=values["matter_code"],
            use_cause=values["use_cause"],
            operation="copy",
        )
        if lic is None:
            missing = NotFoundError("license.not_found", "证照不存在")
            missing.access_recorded = True  # type: ignore[attr-defined]  # by authorize_share
            raise missing
        copy = services.annotated_copy_create(
            actor=request.user,
            license=lic,
            matter_code=values["matter_code"],
            use_cause=values["use_cause"],
            days=values.get("days"),
        )
        return Response(CopySerializer(copy).data, status=status.HTTP_201_CREATED)


class CopyDetailApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.COPY

    @extend_schema(responses={200: CopySerializer, 404: ErrorSerializer}, summary="加注件信息")
    def get(self, request: AuthenticatedRequest, copy_id: str) -> Response:
        return Response(CopySerializer(selectors.copy_get(user=request.user, copy_id=copy_id)).data)


class CopyFileApi(RecordedRefusalsMixin, APIView):
    permission_classes = LICENCE_USERS
    access_operation = Operation.DOWNLOAD
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, "加注件 PDF"),
            404: ErrorSerializer,
            410: OpenApiResponse(ErrorSerializer, "已过下载期限"),
        },
        summary="下载加注件（仅申请单位，期限内）",
    )
    def get(self, request: AuthenticatedRequest, copy_id: str) -> HttpResponse:
        copy = selectors.copy_get(user=request.user, copy_id=copy_id)
        if copy.expires_at <= timezone.now():
            raise ApplicationError(
                "copy.expired",
                "加注件已过下载期限",
                {"expires_at": copy.expires_at.isoformat()},
                status=410,
            )
        copy_download_authorize(user=request.user, copy=copy)  # the grant, checked again
        data = storage.read(copy.path)
        download_record(
            user=request.user,
            license=copy.license,
            file="copy",
            identifier=copy.identifier,
            matter_code=copy.matter_code,
            use_cause=copy.use_cause,
            extra={"copy": str(copy.pk)},
        )
        return binary_response(data, "application/pdf", f"copy-{copy.pk}.pdf", cache="no-store")
