"""Agencies, staff and tokens. Thin: parse, call a service, serialise."""

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from shared.accounts import selectors, services
from shared.accounts.api.serializers import (
    AgencyCreateSerializer,
    AgencySerializer,
    AgencyUpdateSerializer,
    TokenCreatedSerializer,
    TokenCreateSerializer,
    TokenSerializer,
    UserCreateSerializer,
    UserSerializer,
)
from shared.accounts.models import Agency, ApiToken, User
from shared.accounts.requests import AuthenticatedRequest
from shared.core.api.schema import ErrorSerializer
from shared.core.errors import ForbiddenError, NotFoundError


def _agency_or_404(user: User, code: str) -> Agency:
    agency = selectors.agency_list(user=user).filter(code=code).first()
    if agency is None:
        raise NotFoundError("agency.not_found", "单位不存在")
    return agency


class MeApi(APIView):
    @extend_schema(responses=UserSerializer, summary="当前用户")
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(UserSerializer(request.user).data)


class AgencyListApi(APIView):
    @extend_schema(responses=AgencySerializer(many=True), summary="单位列表")
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(AgencySerializer(selectors.agency_list(user=request.user), many=True).data)

    @extend_schema(
        request=AgencyCreateSerializer,
        responses={201: AgencySerializer, 409: ErrorSerializer},
        summary="登记单位",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = AgencyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agency = services.agency_create(actor=request.user, **data.validated_data)
        return Response(AgencySerializer(agency).data, status=status.HTTP_201_CREATED)


class AgencyDetailApi(APIView):
    @extend_schema(responses=AgencySerializer, summary="单位详情")
    def get(self, request: AuthenticatedRequest, code: str) -> Response:
        return Response(AgencySerializer(_agency_or_404(request.user, code)).data)

    @extend_schema(request=AgencyUpdateSerializer, responses=AgencySerializer, summary="修改单位")
    def patch(self, request: AuthenticatedRequest, code: str) -> Response:
        agency = _agency_or_404(request.user, code)
        data = AgencyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agency = services.agency_update(actor=request.user, agency=agency, **data.validated_data)
        return Response(AgencySerializer(agency).data)


class AgencyUserListApi(APIView):
    @extend_schema(
        responses={200: UserSerializer(many=True), 403: ErrorSerializer}, summary="单位人员列表"
    )
    def get(self, request: AuthenticatedRequest, code: str) -> Response:
        agency = _agency_or_404(request.user, code)
        if not (request.user.is_library_admin or request.user.is_agency_admin):
            raise ForbiddenError("permission.denied", "仅单位管理员可查看人员列表")
        return Response(UserSerializer(agency.users.order_by("username"), many=True).data)

    @extend_schema(
        request=UserCreateSerializer,
        responses={201: UserSerializer, 409: ErrorSerializer},
        summary="新增单位人员",
    )
    def post(self, request: AuthenticatedRequest, code: str) -> Response:
        agency = _agency_or_404(request.user, code)
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(actor=request.user, agency=agency, **data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


def _token_caller(request: AuthenticatedRequest) -> User:
    """Tokens are managed by agency staff and library administrators only, over a token or a
    staff session; a holder's portal session is refused (403 `token.staff_only`)."""
    services.require_token_staff(request.user)
    return request.user


class TokenListApi(APIView):
    @extend_schema(
        responses={200: TokenSerializer(many=True), 403: ErrorSerializer}, summary="我的 API 令牌"
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        tokens = ApiToken.objects.filter(user=_token_caller(request))
        return Response(TokenSerializer(tokens, many=True).data)

    @extend_schema(
        request=TokenCreateSerializer,
        # 403: a holder's session (`token.staff_only`) or someone this caller may not issue for;
        # 404: `username` names no one this caller may issue for.
        responses={201: TokenCreatedSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
        summary="签发 API 令牌",
        description="仅限单位工作人员和库管理员；不填 expires_at 时令牌在 90 天后到期。",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        caller = _token_caller(request)
        data = TokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data.get("username")
        user = caller
        if username:
            scope = Q(agency_id=caller.agency_id) if caller.agency_id else Q(pk=None)
            if caller.is_library_admin:
                scope = Q()
            named = User.objects.filter(scope, username=username).first()
            if named is None:
                raise NotFoundError("user.not_found", "用户不存在")
            user = named
        token, secret = services.token_issue(
            actor=caller,
            user=user,
            name=data.validated_data["name"],
            expires_at=data.validated_data.get("expires_at"),
        )
        body = TokenSerializer(token).data | {"token": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class TokenRevokeApi(APIView):
    @extend_schema(request=None, responses=TokenSerializer, summary="吊销 API 令牌")
    def post(self, request: AuthenticatedRequest, token_id: int) -> Response:
        token = services.token_revoke(actor=_token_caller(request), token_id=token_id)
        return Response(TokenSerializer(token).data)
