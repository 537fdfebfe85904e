"""`Authorization: Bearer <token>` authentication (DESIGN §8)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from shared.accounts.models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("令牌格式错误")
        try:
            secret = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("令牌格式错误") from exc
        token = (
            ApiToken.objects.select_related("user", "user__agency")
            .filter(digest=ApiToken.digest_of(secret))
            .first()
        )
        now = timezone.now()
        if (
            token is None
            or token.revoked_at is not None
            or (token.expires_at is not None and token.expires_at <= now)
            or not token.user.is_active
            or (token.user.agency is not None and not token.user.agency.active)
        ):
            raise exceptions.AuthenticationFailed("令牌无效、已吊销或已过期")
        # Touch last_used at most once a minute: a write per request would serialise readers.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):  # type: ignore[no-untyped-def]
        return self.keyword
