"""Start-up checks for production settings."""

from shared.conf.env import INSECURE_SECRET_PREFIX, ImproperlyConfiguredError


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
    holder_key = settings.get("HOLDER_CODE_KEY", "")
    if not holder_key or holder_key.startswith(INSECURE_SECRET_PREFIX) or len(holder_key) < 32:
        problems.append("HOLDER_CODE_KEY must be set to a random value of at least 32 characters")
    if not settings.get("ACCESS_LOG_ENABLED", True):
        problems.append("ACCESS_LOG_ENABLED cannot be off in production (art. 27)")
    if problems:
        raise ImproperlyConfiguredError("; ".join(problems))
