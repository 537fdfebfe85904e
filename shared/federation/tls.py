"""TLS for calls between libraries: the client certificate and the CA bundle (issue #16).

The exchange endpoints sit behind nginx's mTLS listener (deploy/nginx/elicense.conf, :8443,
`ssl_verify_client on`): a library that presents no certificate from the federation CA is
refused there, before Django. Every outbound inter-library call therefore takes its TLS
arguments from here, on each request: `requests.post(url, …, **exchange_tls())` or
`session.post(url, …, **exchange_tls())`, never as `session.verify`, which requests lets
REQUESTS_CA_BUNDLE in the environment override. The settings are read per call, so a renewed
certificate (same paths) is picked up without a restart and tests can override them.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def exchange_tls() -> dict[str, Any]:
    """`cert` and `verify` keyword arguments for one request."""
    cert_file = settings.EXCHANGE_TLS_CLIENT_CERT
    key_file = settings.EXCHANGE_TLS_CLIENT_KEY
    if key_file and not cert_file:
        # A key alone would silently send no certificate: say so instead of a 400 from nginx.
        raise ImproperlyConfigured(
            "EXCHANGE_TLS_CLIENT_KEY 已设置但缺少 EXCHANGE_TLS_CLIENT_CERT / "
            "EXCHANGE_TLS_CLIENT_KEY is set without EXCHANGE_TLS_CLIENT_CERT"
        )
    cert: str | tuple[str, str] | None = None
    if cert_file:
        cert = (cert_file, key_file) if key_file else cert_file
    return {"cert": cert, "verify": settings.EXCHANGE_TLS_CA_BUNDLE or True}
