"""Signed request tokens between libraries, for the calls that are not envelopes (status,
digests, resend, files): `X-Exchange-Token: <compact token>` signed by the caller's exchange key.

A token is good for one request only, not for any peer call in its lifetime: besides issuer,
audience and a 120-second window it names the HTTP method (`htm`), the path (`htu`, as DPoP
does, RFC 9449) and the SHA-256 of the request body (`bdh`, of the empty body for a GET).
The receiver refuses a token presented on another method, path or body
(`exchange.token_mismatch`), so a token seen in a log or on the wire cannot be replayed against
another endpoint, another file or another resend list.
"""

import base64
import hashlib
import json
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from shared.core.api.parsers import InputRefused, guarded_json_loads
from shared.core.errors import ApplicationError
from shared.crypto.suites import suite_for_key
from shared.crypto.tokens import TokenError, sign_token, verify_token
from shared.exchange.envelopes import EnvelopeError
from shared.federation.keys import peer_public_key, signing_key

HEADER = "HTTP_X_EXCHANGE_TOKEN"
LIFETIME_SECONDS = 120


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def request_token(*, audience: str, method: str, url: str, body: bytes = b"") -> str:
    """A token for one request: `method` to `url` (a full URL or a path) carrying `body`."""
    kid, key = signing_key()
    now = int(time.time())
    claims = {
        "iss": settings.LIBRARY_CODE,
        "aud": audience,
        "iat": now,
        "exp": now + LIFETIME_SECONDS,
        "htm": method.upper(),
        "htu": urlsplit(url).path,
        "bdh": body_digest(body),
    }
    return sign_token(suite=suite_for_key(key), key=key, kid=kid, claims=claims)


def signed_json(
    *, audience: str, url: str, data: Any, method: str = "POST"
) -> tuple[bytes, dict[str, str]]:
    """A JSON body and the headers for it, the token bound to exactly these bytes."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return body, {
        "Content-Type": "application/json",
        "X-Exchange-Token": request_token(audience=audience, method=method, url=url, body=body),
    }


def _bound_to(
    claims: dict[str, Any], *, method: str, path: str, path_info: str, body: bytes
) -> bool:
    htu = claims.get("htu")
    # Behind a proxy that strips a prefix the caller's path ends with what this library sees.
    path_ok = isinstance(htu, str) and (
        htu == path or (bool(path_info) and htu.endswith(path_info))
    )
    return (
        claims.get("htm") == method.upper() and path_ok and claims.get("bdh") == body_digest(body)
    )


def authenticate_peer(request: Any, *, expected_sender: str | None = None) -> str:
    """The library code that signed this request's token, or a 401/403 error. `request`: the
    Django or DRF request (its method, path and body are checked against the token)."""
    meta = request.META
    token = meta.get(HEADER, "")
    if not token or len(token) > 4096:
        raise ApplicationError("exchange.auth_required", "缺少交换签名令牌", status=401)
    issuer_holder: dict[str, str] = {}

    def resolve(alg: str, kid: str):
        sender = issuer_holder.get("iss", "")
        return peer_public_key(sender, kid)

    try:
        payload = token.split(".")[1]
        # The caller's JSON, read before any signature check: through the input guard (a deep
        # nest would otherwise end in RecursionError, a 500).
        claims = guarded_json_loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer_holder["iss"] = str(claims.get("iss", ""))
        verified = verify_token(token, resolve_key=resolve, now=timezone.now())
    except EnvelopeError as exc:  # a retired key (rotation): its own stable code
        raise ApplicationError(exc.code, exc.message, status=401) from exc
    except (TokenError, InputRefused, ValueError, IndexError, AttributeError) as exc:
        raise ApplicationError(
            "exchange.bad_token", "交换签名令牌无效或已过期", status=401
        ) from exc
    if verified.claims.get("aud") != settings.LIBRARY_CODE:
        raise ApplicationError("exchange.bad_token", "交换签名令牌的接收方不是本库", status=401)
    if not _bound_to(
        verified.claims,
        method=request.method,
        path=request.path,
        path_info=getattr(request, "path_info", ""),
        body=request.body,
    ):
        raise ApplicationError(
            "exchange.token_mismatch",
            "交换签名令牌不是为本次请求（方法、路径或内容）签发的",
            {"method": request.method, "path": request.path},
            status=401,
        )
    sender = str(verified.claims.get("iss"))
    if expected_sender is not None and sender != expected_sender:
        raise ApplicationError("exchange.forbidden", "令牌签发方与请求的库不一致", status=403)
    return sender
