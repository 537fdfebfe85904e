"""Production differs only by environment variables, and refuses insecure defaults."""

from shared.conf.production import check_production_settings

from .base import *  # noqa: F403

DEBUG = False
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
check_production_settings(globals())
