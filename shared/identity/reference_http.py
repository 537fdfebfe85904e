"""The reference OpenID Connect provider's HTTP answers: JSON, a redirect back to the client,
the sign-in form. Apart from shared.identity.reference_provider only to keep that module small.

Pure Python: no Django.
"""

import html
import json
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import Any


def send_json(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Cache-Control", "no-store")
    request.send_header("Content-Length", str(len(payload)))
    request.end_headers()
    request.wfile.write(payload)


def send_redirect(request: BaseHTTPRequestHandler, uri: str, params: dict[str, str]) -> None:
    separator = "&" if "?" in uri else "?"
    request.send_response(302)
    request.send_header("Location", uri + separator + urllib.parse.urlencode(params))
    request.send_header("Content-Length", "0")
    request.end_headers()


def send_form(request: BaseHTTPRequestHandler, params: dict[str, str], error: str = "") -> None:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in ("username", "password")
    )
    message = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        "<title>河南省统一身份认证（参考实现）</title></head><body>"
        "<h1>河南省统一身份认证（参考实现）</h1>"
        + message
        + '<form method="post" action="/authorize">'
        + hidden
        + '<label for="username">用户名</label><input id="username" name="username" required>'
        '<label for="password">密码</label>'
        '<input id="password" name="password" type="password" required>'
        '<button type="submit">登录并授权</button></form></body></html>'
    ).encode()
    request.send_response(400 if error else 200)
    request.send_header("Content-Type", "text/html; charset=utf-8")
    request.send_header("Content-Length", str(len(page)))
    request.end_headers()
    request.wfile.write(page)
