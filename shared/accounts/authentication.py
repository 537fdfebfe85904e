"""`Authorization: Bearer <token>` authentication (DESIGN §8)."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions

from shared.accounts.models import ApiToken
from shared.core.errors import ApplicationError
from shared.core.prepared import PreparedRead

# Every API request reads its token: compiled once per process (shared.core.prepared).
TOKEN_BY_DIGEST = PreparedRead(
    lambda digest: (
        ApiToken.objects.select_related("user", "user__agency")
        .filter(digest=digest)
        .order_by("pk")[:1]
    )
)


class TokenExpiredError(ApplicationError, exceptions.AuthenticationFailed):  # type: ignore[misc]  # ApplicationError's `detail` (a dict) is the one DRF's handler never sees
    """401 `auth.token_expired`: a real token past its `expires_at`.

    An `ApplicationError` so the answer names the expiry in Chinese, and an
    `AuthenticationFailed` so DRF treats it as failed authentication (the request becomes
    anonymous) and code that looks for authentication failures finds it.
    """

    status_code = 401

    def __init__(self, expired_at: datetime) -> None:
        local = timezone.localtime(expired_at)
        super().__init__(
            "auth.token_expired",
            f"API 令牌已于 {local:%Y-%m-%d %H:%M} 过期，请重新签发令牌",
            {"expired_at": local.isoformat()},
        )


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("令牌格式错误")
        try:
            secret = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("令牌格式错误") from exc
        token = TOKEN_BY_DIGEST.first(ApiToken.digest_of(secret))
        now = timezone.now()
        if (
            token is None
            or token.revoked_at is not None
            or not token.user.is_active
            # A holder's token (issued before tokens were for staff only) would skip the
            # one-time code of the holder portal.
            or token.user.is_holder
            or (token.user.agency is not None and not token.user.agency.active)
        ):
            raise exceptions.AuthenticationFailed("令牌无效、已吊销或已过期")
        # A row written without an expiry (straight through the ORM) still ends: the default
        # lifetime counted from its creation.
        expires_at = token.expires_at or token.created_at + timedelta(
            days=settings.API_TOKEN_DEFAULT_DAYS
        )
        if expires_at <= now:
            raise TokenExpiredError(expires_at)
        # Touch last_used at most once a minute: a write per request would serialise readers.
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword
