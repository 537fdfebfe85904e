"""The identity-provider adapter and its OpenID Connect client (the provincial unified login).

An `IdentityProvider` sends the browser to sign in (`begin`) and turns the answer into a
verified `Identity` (`finish`). `OidcProvider` speaks the authorisation-code flow with state,
nonce and PKCE (S256); the ID token's signature is checked against the provider's JWKS
(RS256/ES256 only: never `none`, never a symmetric algorithm) and its `iss`, `aud`, `exp`,
`iat` and `nonce` are checked before anything is believed. Discovery, token and JWKS calls
have explicit timeouts; a provider that does not answer is a retryable error. Discovery and
JWKS are kept OIDC_CACHE_SECONDS; a token signed with a key the kept JWKS lacks (the provider
rotated its key) fetches the JWKS again, once.

Settings: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET (the login is off while any is
unset), OIDC_TIMEOUT, OIDC_SCOPE.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from shared.core.errors import PermanentError, RetryableError

ALGORITHMS = ["RS256", "ES256"]
LEEWAY_SECONDS = 60
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


class _UnknownKey(Exception):  # noqa: N818 - control flow: the token names a key not in the JWKS
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    issuer: str
    subject: str
    name: str
    holder_code: str
    holder_code_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """What the browser's session keeps between `begin` and `finish` (never sent out but
    the state, the nonce and the challenge derived from the verifier)."""

    state: str
    nonce: str
    code_verifier: str

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "code_verifier": self.code_verifier}


class IdentityProvider(Protocol):
    def begin(self, *, redirect_uri: str) -> tuple[str, Pending]:
        """The URL to send the browser to, and what to keep for `finish`."""

    def finish(self, *, redirect_uri: str, params: dict[str, str], pending: Pending) -> Identity:
        """The verified identity for the provider's answer, or an ApplicationError."""


def refused(code: str, reason: str = "") -> PermanentError:
    return PermanentError(
        f"oidc.{code}",
        "统一身份认证登录未通过校验，未登录也未创建账户，请重新登录",
        {"reason": reason} if reason else {},
    )


def _unavailable(why: str) -> RetryableError:
    return RetryableError(
        "oidc.unavailable", "统一身份认证服务暂不可用，请稍后重试", {"reason": why}
    )


class OidcProvider:
    def __init__(
        self, *, issuer: str, client_id: str, client_secret: str, timeout: float, scope: str
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = timeout
        self.scope = scope

    def _get(self, url: str, *, fresh: bool = False) -> dict[str, Any]:
        """A JSON document of the provider, kept OIDC_CACHE_SECONDS per process (discovery and
        JWKS change seldom; a key the kept JWKS lacks makes `finish` fetch it again)."""
        now = time.monotonic()
        with _cache_lock:
            kept = _cache.get(url)
        if kept is not None and not fresh and now - kept[0] < settings.OIDC_CACHE_SECONDS:
            return kept[1]
        try:
            response = requests.get(url, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise _unavailable(type(exc).__name__) from exc
        if not isinstance(body, dict):
            raise _unavailable("not an object")
        with _cache_lock:
            _cache[url] = (now, body)
        return body

    def discovery(self) -> dict[str, Any]:
        document = self._get(f"{self.issuer}/.well-known/openid-configuration")
        if document.get("issuer", "").rstrip("/") != self.issuer:
            raise refused("issuer_mismatch", "discovery")  # OIDC Discovery §4.3
        return document

    def begin(self, *, redirect_uri: str) -> tuple[str, Pending]:
        endpoint = self.discovery()["authorization_endpoint"]
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
        )
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": self.scope,
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": create_s256_code_challenge(pending.code_verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}?{query}", pending

    def finish(self, *, redirect_uri: str, params: dict[str, str], pending: Pending) -> Identity:
        if not secrets.compare_digest(params.get("state", ""), pending.state):
            raise refused("state_mismatch")
        if params.get("error"):
            raise refused("provider_error", params["error"][:100])
        code = params.get("code", "")
        if not code:
            raise refused("no_code")
        document = self.discovery()
        session = OAuth2Session(
            self.client_id,
            self.client_secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            default_timeout=self.timeout,
        )
        try:
            token = session.fetch_token(
                document["token_endpoint"],
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=pending.code_verifier,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise _unavailable(type(exc).__name__) from exc
        except AuthlibBaseError as exc:  # the provider refused the code: an answer, not an outage
            raise refused("token_refused", str(getattr(exc, "error", ""))[:100]) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise refused("no_id_token")
        try:
            claims = self.verify(
                id_token, jwks=self._get(document["jwks_uri"]), nonce=pending.nonce
            )
        except _UnknownKey:  # the provider rotated its key since the JWKS was kept: once more
            jwks = self._get(document["jwks_uri"], fresh=True)
            try:
                claims = self.verify(id_token, jwks=jwks, nonce=pending.nonce)
            except _UnknownKey as exc:
                raise refused("bad_signature", "InvalidKeyIdError") from exc
        return Identity(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            name=str(claims.get("name", "")).strip(),
            holder_code=str(claims.get("holder_code", "")).strip(),
            holder_code_type=str(claims.get("holder_code_type", "111")).strip(),
        )

    def verify(self, id_token: str, *, jwks: dict[str, Any], nonce: str) -> dict[str, Any]:
        """The ID token's claims once its signature, issuer, audience, times and nonce hold."""
        try:
            keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # a JWKS document
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except InvalidKeyIdError as exc:
            raise _UnknownKey from exc
        except (JoseError, ValueError, KeyError) as exc:
            raise refused("bad_signature", type(exc).__name__) from exc
        claims: dict[str, Any] = dict(token.claims)
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise refused(f"claim_{exc.error}", str(exc)[:100]) from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:  # OIDC Core §3.1.3.7
            raise refused("claim_invalid_claim", "azp")
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise refused("nonce_mismatch")
        return claims


def oidc_enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID and settings.OIDC_CLIENT_SECRET)


def identity_provider() -> IdentityProvider:
    return OidcProvider(
        issuer=settings.OIDC_ISSUER,
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET,
        timeout=settings.OIDC_TIMEOUT,
        scope=settings.OIDC_SCOPE,
    )
