"""A small reference OpenID Connect provider standing in for the provincial unified login.

For tests and the demo: real HTTP on 127.0.0.1 (in a thread, or as a process with
`python -m shared.identity.reference_provider`), real RS256 signatures (joserfc), the
authorisation-code flow with PKCE (S256) only. It is not the provincial login; it signs in
the people it was given:

    GET  /.well-known/openid-configuration   discovery
    GET  /jwks                                the public signing key(s)
    GET  /authorize?…                         a sign-in form (or, with `auto_approve`, straight
                                              back to the client with a code)
    POST /authorize                           the form: username + password
    POST /token                               code + code_verifier → id_token (client_secret_basic
                                              or client_secret_post)

The ID token carries `name`, `holder_code` and `holder_code_type` (111 公民身份号码, 001 统一社会
信用代码) besides the standard claims. `fault` makes it misbehave for the refusal tests:
`wrong_nonce`, `wrong_audience`, `wrong_issuer`, `expired`, `bad_signature` (signed with a key
that is not in the JWKS, under the published key id), `unknown_key` (under a key id the JWKS
does not list). `rotate_key()` switches to a new key and key id.

Pure Python: no Django.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from shared.identity.reference_http import send_form, send_json, send_redirect

CODE_SECONDS = 60
FAULTS = (
    "wrong_nonce",
    "wrong_audience",
    "wrong_issuer",
    "expired",
    "bad_signature",
    "unknown_key",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """Someone the provider can sign in, with what the ID token says about them."""

    username: str
    password: str
    name: str
    holder_code: str
    holder_code_type: str = "111"

    @property
    def subject(self) -> str:
        # A pairwise-looking, stable subject that is not the holder code itself.
        return "sub-" + hashlib.sha256(self.username.encode()).hexdigest()[:20]


@dataclass(slots=True, kw_only=True)
class _Grant:
    person: Person
    client_id: str
    redirect_uri: str
    nonce: str
    code_challenge: str
    expires: float


@dataclass(slots=True, kw_only=True)
class ProviderState:
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    people: dict[str, Person]
    auto_approve: str = ""
    fault: str = ""
    codes: dict[str, _Grant] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


class ReferenceProvider:
    """The provider on 127.0.0.1:`port` (0: any free port), as a context manager."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        redirect_uris: list[str],
        people: list[Person],
        auto_approve: str = "",
        port: int = 0,
        host: str = "127.0.0.1",
        issuer: str = "",
    ) -> None:
        self.state = ProviderState(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=list(redirect_uris),
            people={p.username: p for p in people},
            auto_approve=auto_approve,
        )
        self.key = RSAKey.generate_key(2048, parameters={"kid": "ref-1", "use": "sig"})
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                provider._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                provider._handle(self, "POST")

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.issuer = issuer or self.url

    # -- the fault switch and the people, for tests ---------------------------------------
    @property
    def fault(self) -> str:
        return self.state.fault

    @fault.setter
    def fault(self, value: str) -> None:
        if value and value not in FAULTS:
            raise ValueError(value)
        self.state.fault = value

    def rotate_key(self) -> None:
        """Sign with a new key under a new key id from now on; the JWKS lists only it."""
        number = int(str(self.key.kid).rsplit("-", 1)[-1]) + 1
        self.key = RSAKey.generate_key(2048, parameters={"kid": f"ref-{number}", "use": "sig"})

    @property
    def url(self) -> str:
        host, port = cast("tuple[str, int]", self.server.server_address[:2])  # an AF_INET server
        return f"http://{host}:{port}"

    def __enter__(self) -> ReferenceProvider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- HTTP ---------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parsed = urllib.parse.urlsplit(request.path)
        self.state.requests.append(f"{method} {parsed.path}")
        query = dict(urllib.parse.parse_qsl(parsed.query))
        form: dict[str, str] = {}
        if method == "POST":
            length = int(request.headers.get("Content-Length") or 0)
            form = dict(urllib.parse.parse_qsl(request.rfile.read(length).decode("utf-8")))
        route = (method, parsed.path.rstrip("/") or "/")
        if route == ("GET", "/.well-known/openid-configuration"):
            send_json(request, 200, self.discovery())
        elif route == ("GET", "/jwks"):
            send_json(request, 200, dict(KeySet([self.key]).as_dict(private=False)))
        elif route == ("GET", "/authorize"):
            self._authorize(request, query, person=self.state.people.get(self.state.auto_approve))
        elif route == ("POST", "/authorize"):
            person = self.state.people.get(form.get("username", ""))
            if person is None or not secrets.compare_digest(
                person.password.encode(), form.get("password", "").encode()
            ):
                send_form(request, form, error="用户名或密码错误")
                return
            self._authorize(request, form, person=person)
        elif route == ("POST", "/token"):
            self._token(request, form)
        else:
            send_json(request, 404, {"error": "not_found"})

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "profile", "holder"],
            "claims_supported": ["sub", "name", "holder_code", "holder_code_type"],
        }

    def _authorize(
        self, request: BaseHTTPRequestHandler, params: dict[str, str], *, person: Person | None
    ) -> None:
        state = self.state
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != state.client_id or redirect_uri not in state.redirect_uris:
            send_json(request, 400, {"error": "invalid_client"})  # never redirect to an unknown URI
            return
        if (
            params.get("response_type") != "code"
            or "openid" not in params.get("scope", "").split()
            or params.get("code_challenge_method") != "S256"
            or not params.get("code_challenge")
        ):
            send_redirect(
                request,
                redirect_uri,
                {"error": "invalid_request", "state": params.get("state", "")},
            )
            return
        if person is None:
            send_form(request, params)
            return
        code = secrets.token_urlsafe(24)
        with self.lock:
            state.codes[code] = _Grant(
                person=person,
                client_id=state.client_id,
                redirect_uri=redirect_uri,
                nonce=params.get("nonce", ""),
                code_challenge=params["code_challenge"],
                expires=time.time() + CODE_SECONDS,
            )
        send_redirect(request, redirect_uri, {"code": code, "state": params.get("state", "")})

    def _client_ok(self, request: BaseHTTPRequestHandler, form: dict[str, str]) -> bool:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode("utf-8")
            client_id, _, secret = decoded.partition(":")
            client_id, secret = urllib.parse.unquote(client_id), urllib.parse.unquote(secret)
        return client_id == self.state.client_id and secrets.compare_digest(
            secret.encode(), self.state.client_secret.encode()
        )

    def _token(self, request: BaseHTTPRequestHandler, form: dict[str, str]) -> None:
        if not self._client_ok(request, form):
            send_json(request, 401, {"error": "invalid_client"})
            return
        with self.lock:
            grant = self.state.codes.pop(form.get("code", ""), None)  # a code is used once
        verifier = form.get("code_verifier", "")
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .decode()
            .rstrip("=")
        )
        if (
            grant is None
            or grant.expires < time.time()
            or form.get("grant_type") != "authorization_code"
            or form.get("redirect_uri") != grant.redirect_uri
            or not secrets.compare_digest(challenge, grant.code_challenge)
        ):
            send_json(request, 400, {"error": "invalid_grant"})
            return
        send_json(
            request,
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "openid profile holder",
                "id_token": self.id_token(grant),
            },
        )

    def id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        fault = self.state.fault
        claims = {
            "iss": self.issuer + ("/other" if fault == "wrong_issuer" else ""),
            "sub": grant.person.subject,
            "aud": "another-client" if fault == "wrong_audience" else grant.client_id,
            "iat": now - (7200 if fault == "expired" else 0),
            "exp": now + (-3600 if fault == "expired" else 300),
            "auth_time": now,
            "nonce": "not-" + grant.nonce if fault == "wrong_nonce" else grant.nonce,
            "name": grant.person.name,
            "holder_code": grant.person.holder_code,
            "holder_code_type": grant.person.holder_code_type,
        }
        key = self.key
        if fault == "bad_signature":  # another key under the published key id
            key = RSAKey.generate_key(2048, parameters={"kid": str(self.key.kid)})
        elif fault == "unknown_key":  # a key under a key id the JWKS does not list
            key = RSAKey.generate_key(2048, parameters={"kid": "not-published"})
        return jwt.encode({"alg": "RS256", "kid": str(key.kid), "typ": "JWT"}, claims, key)


def _person(text: str) -> Person:
    username, password, name, code_type, code = text.split(":", 4)
    return Person(
        username=username,
        password=password,
        name=name,
        holder_code=code,
        holder_code_type=code_type,
    )


DEMO_PASSWORD = "demo-idp-123"  # noqa: S105 - the demo provider's people, printed by the demo


def demo_people() -> list[Person]:
    """The demo's people (`make demo`): 张伟, the 郑州 demo holder (his first sign-in here links
    to his existing account), and 李娜, who has no account yet (her first sign-in enrols her)."""
    from shared.domain.holder_codes import citizen_id_check

    def code(first17: str) -> str:
        return first17 + citizen_id_check(first17)

    return [
        Person(
            username="zhangwei",
            password=DEMO_PASSWORD,
            name="张伟",
            holder_code=code("41010219850312123"),
        ),
        Person(
            username="lina",
            password=DEMO_PASSWORD,
            name="李娜",
            holder_code=code("41010219900607246"),
        ),
    ]


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="河南省统一身份认证的参考 OpenID Connect 提供方")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--redirect-uri", action="append", required=True)
    parser.add_argument(
        "--person",
        action="append",
        default=[],
        help="username:password:姓名:代码类型:代码 (repeatable)",
    )
    parser.add_argument("--auto-approve", default="", help="sign this username in without a form")
    parser.add_argument("--demo", action="store_true", help="add the demo's people (make demo)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    provider = ReferenceProvider(
        client_id=args.client_id,
        client_secret=args.client_secret,
        redirect_uris=args.redirect_uri,
        people=[_person(p) for p in args.person] + (demo_people() if args.demo else []),
        auto_approve=args.auto_approve,
        port=args.port,
    )
    print(f"reference OIDC provider at {provider.url}", flush=True)  # noqa: T201
    try:
        provider.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        provider.server.server_close()


if __name__ == "__main__":
    main()
