"""Production: HTTPS-only transport settings and start-up checks."""

from typing import Any

from shared.conf.env import (
    INSECURE_SECRET_PREFIX,
    ImproperlyConfiguredError,
    env,
    env_bool,
    env_int,
)
from shared.conf.logs import logging_config

HSTS_MIN_SECONDS = 86400


def https_settings() -> dict[str, Any]:
    """HTTPS only, behind a proxy that terminates TLS and sets X-Forwarded-Proto.

    Plain HTTP is redirected to HTTPS, except /healthz, /readyz and /metrics: load balancers and
    Prometheus probe those over plain HTTP on the internal network, and a redirect would mark the
    library down.
    """
    return {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SECURE_HSTS_SECONDS": env_int("SECURE_HSTS_SECONDS", 365 * 86400),
        # Subdomains of a library's own host name only (HSTS never reaches the parent domain).
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        # Webhook deliveries carry licence status to consumer systems: https targets only
        # unless explicitly allowed (docs/webhooks.md).
        "WEBHOOK_REQUIRE_HTTPS": env_bool("WEBHOOK_REQUIRE_HTTPS", True),
    }


def production_logging() -> dict[str, Any]:
    """JSON lines unless LOG_FORMAT says otherwise: a log collector parses them (docs/operations.md
    日志); `LOG_FORMAT=console` for someone reading a terminal."""
    fmt = env("LOG_FORMAT", "json")
    return {"LOG_FORMAT": fmt, "LOGGING": logging_config(fmt=fmt, level=env("LOG_LEVEL", "INFO"))}


def check_production_settings(settings: dict) -> None:
    """Refuse to start on a development default that is unsafe in production."""
    problems = []
    secret = settings.get("SECRET_KEY", "")
    if not secret or secret.startswith(INSECURE_SECRET_PREFIX) or len(secret) < 40:
        problems.append("SECRET_KEY must be set to a random value of at least 40 characters")
    if settings.get("DEBUG"):
        problems.append("DEBUG must be off")
    if "*" in settings.get("ALLOWED_HOSTS", []):
        problems.append("ALLOWED_HOSTS must list the host names, not '*'")
    engine = settings.get("DATABASES", {}).get("default", {}).get("ENGINE", "")
    if engine.endswith("sqlite3"):
        problems.append("DATABASE_URL must point at PostgreSQL in production")
    if settings.get("CELERY_BROKER_URL", "").startswith("filesystem://"):
        problems.append("REDIS_URL must be set in production")
    if settings.get("CELERY_BROKER_URL", "").startswith("amqp") and not settings.get(
        "RATE_LIMIT_REDIS_URL"
    ):
        # without it every process would keep rate-limit counts of its own
        problems.append("REDIS_URL must be set beside an AMQP CELERY_BROKER_URL (rate limits)")
    problems.extend(_holder_key_problems(settings))
    if not settings.get("ACCESS_LOG_ENABLED", True):
        problems.append("ACCESS_LOG_ENABLED cannot be off in production (art. 27)")
    if not settings.get("SECURE_SSL_REDIRECT"):
        problems.append("SECURE_SSL_REDIRECT must be on in production")
    if (settings.get("SECURE_HSTS_SECONDS") or 0) < HSTS_MIN_SECONDS:
        problems.append(f"SECURE_HSTS_SECONDS must be at least {HSTS_MIN_SECONDS} in production")
    if not (settings.get("SESSION_COOKIE_SECURE") and settings.get("CSRF_COOKIE_SECURE")):
        problems.append("SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE must be on in production")
    # Private keys at rest (seal/CA/token, federation, access log): each under its own password,
    # never one derived from SECRET_KEY or a development default (docs/pki.md).
    for name in ("FILES_KEY_PASSWORD", "FEDERATION_KEY_PASSWORD", "ACCESS_LOG_KEY_PASSWORD"):
        password = settings.get(name, "")
        if (
            not password
            or password.startswith(INSECURE_SECRET_PREFIX)
            or len(password) < 32
            or password == secret
        ):
            problems.append(
                f"{name} must be set to a random value of at least 32 characters, "
                "not the SECRET_KEY"
            )
    # Prometheus scrapes /metrics with this token: behind a proxy every request is loopback.
    metrics_token = settings.get("METRICS_TOKEN", "")
    if len(metrics_token) < 32 or metrics_token.startswith(INSECURE_SECRET_PREFIX):
        problems.append("METRICS_TOKEN must be set to a random value of at least 32 characters")
    # The unified login's tokens and client secret travel over TLS only (docs/holders.md).
    if settings.get("OIDC_ISSUER") and not str(settings["OIDC_ISSUER"]).startswith("https://"):
        problems.append("OIDC_ISSUER must be an https:// URL in production")
    if settings.get("DEMO_CREDENTIALS_FILE"):
        problems.append("DEMO_CREDENTIALS_FILE is the demo's (the landing page lists its accounts)")
    if problems:
        raise ImproperlyConfiguredError("; ".join(problems))


def _holder_key_problems(settings: dict) -> list[str]:
    """HOLDER_CODE_KEYS, when set, replaces HOLDER_CODE_KEY (then version 1): every version's
    secret random and long, none the SECRET_KEY (docs/pki.md, 持证主体代码密钥)."""
    from shared.crypto.holder_codes import HolderKeyring

    def weak(secret: str) -> bool:
        return (
            not secret
            or secret.startswith(INSECURE_SECRET_PREFIX)
            or len(secret) < 32
            or secret == settings.get("SECRET_KEY")
        )

    keys = (settings.get("HOLDER_CODE_KEYS") or "").strip()
    if not keys:
        if weak(settings.get("HOLDER_CODE_KEY", "")):
            return ["HOLDER_CODE_KEY must be set to a random value of at least 32 characters"]
        return []
    try:
        ring = HolderKeyring.parse(keys)
    except ValueError as exc:
        return [f"HOLDER_CODE_KEYS is malformed: {exc}"]
    bad = sorted(version for version, secret in ring.keys.items() if weak(secret))
    if bad:
        return [
            "HOLDER_CODE_KEYS: each key must be a random value of at least 32 characters "
            f"(versions {', '.join(map(str, bad))} are not)"
        ]
    if len(set(ring.keys.values())) != len(ring.keys):
        return ["HOLDER_CODE_KEYS: two versions share one secret"]
    return []
