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
    if problems:
        raise ImproperlyConfiguredError("; ".join(problems))
