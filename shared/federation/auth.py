"""Signed request tokens between libraries, for the calls that are not envelopes (status,
digests, resend): `X-Exchange-Token: <compact token>` signed by the caller's exchange key."""

import time

from django.conf import settings
from django.utils import timezone

from shared.core.errors import ApplicationError
from shared.crypto.suites import suite_for_key
from shared.crypto.tokens import TokenError, sign_token, verify_token
from shared.federation.keys import peer_public_key, signing_key

HEADER = "HTTP_X_EXCHANGE_TOKEN"
LIFETIME_SECONDS = 120


def request_token(*, audience: str) -> str:
    kid, key = signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.LIBRARY_CODE,
        "aud": audience,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
    }
    return sign_token(suite=suite_for_key(key), key=key, kid=kid, claims=claims)


def authenticate_peer(meta: dict, *, expected_sender: str | None = None) -> str:
    """The library code that signed this request's token, or a 401/403 error."""
    token = meta.get(HEADER, "")
    if not token or len(token) > 4096:
        raise ApplicationError("exchange.auth_required", "缺少交换签名令牌", status=401)
    issuer_holder: dict[str, str] = {}

    def resolve(alg: str, kid: str):  # type: ignore[no-untyped-def]
        sender = issuer_holder.get("iss", "")
        return peer_public_key(sender, kid)

    try:
        import base64
        import json

        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer_holder["iss"] = str(claims.get("iss", ""))
        verified = verify_token(token, resolve_key=resolve, now=timezone.now())
    except (TokenError, ValueError, IndexError, AttributeError) as exc:
        raise ApplicationError(
            "exchange.bad_token", "交换签名令牌无效或已过期", status=401
        ) from exc
    if verified.claims.get("aud") != settings.LIBRARY_CODE:
        raise ApplicationError("exchange.bad_token", "交换签名令牌的接收方不是本库", status=401)
    sender = str(verified.claims.get("iss"))
    if expected_sender is not None and sender != expected_sender:
        raise ApplicationError("exchange.forbidden", "令牌签发方与请求的库不一致", status=403)
    return sender
