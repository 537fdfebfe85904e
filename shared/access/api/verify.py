"""`/api/v1/access-log/verify/` (library administrator): POST asks a worker to verify the whole
log (202, the run; the one under way if there is one), GET shows the latest run, its progress
and, once done, its report."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.access.api.serializers import VerifyRunSerializer
from shared.access.api.views import RecordedRefusalsMixin
from shared.access.log.verify_runs import verify_request
from shared.access.models import VerifyRun
from shared.accounts.requests import AuthenticatedRequest
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import ForbiddenError, NotFoundError


def _library_admin(request: AuthenticatedRequest) -> None:
    if not request.user.is_library_admin:
        raise ForbiddenError("permission.library_admin_required", "仅库管理员可校验用证记录链")


class AccessLogVerifyApi(RecordedRefusalsMixin, APIView):
    @extend_schema(
        responses={200: VerifyRunSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        summary="最近一次用证记录链校验：进度与结果（库管理员）",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        _library_admin(request)
        run = VerifyRun.objects.order_by("-id").first()
        if run is None:
            raise NotFoundError("access.verify_none", "尚未校验过用证记录链，请先发起校验（POST）")
        return Response(VerifyRunSerializer(run).data)

    @extend_schema(
        request=None,
        responses={202: VerifyRunSerializer, 403: ErrorSerializer},
        summary="发起用证记录链校验：逐条重算哈希、链接、检查点与子树根（库管理员，后台执行）",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        _library_admin(request)
        run, _ = verify_request(requested_by=request.user.get_username())
        return Response(VerifyRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)
