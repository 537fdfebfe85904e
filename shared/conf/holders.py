"""Settings of the holder-facing services (issue #14): identity, holder-code key rotation,
webhooks and notifications. shared.conf.base star-imports this module and adds `apps`,
`beat_schedule` and `enum_name_overrides` (lower case, so not settings themselves) to its
INSTALLED_APPS, CELERY_BEAT_SCHEDULE and SPECTACULAR_SETTINGS; kept apart only so that base.py
stays small."""

from shared.conf.env import env, env_bool, env_int

# identity (issue #14 item 1, docs/holders.md): holder enrolment through the provincial unified
# login (OpenID Connect; off while any of the three is unset: the button is not shown) or the
# population / legal-entity registry; TOTP enrolment and single-use recovery codes (otp_static).
apps = ["django_otp.plugins.otp_static", "shared.identity"]
OIDC_ISSUER = env("OIDC_ISSUER", "")
OIDC_CLIENT_ID = env("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = env("OIDC_CLIENT_SECRET", "")
OIDC_SCOPE = env("OIDC_SCOPE", "openid profile holder")
OIDC_TIMEOUT = float(env_int("OIDC_TIMEOUT", 5))
OIDC_CACHE_SECONDS = env_int("OIDC_CACHE_SECONDS", 300)  # discovery and JWKS, per process
HOLDER_RECOVERY_CODES = 10
HOLDER_ENROL_PER_MINUTE = env_int("HOLDER_ENROL_PER_MINUTE", 5)  # registry checks per address/code

# Holder-code key rotation (shared.holder_keys): rows re-encrypted per task; beat queues a
# running rotation again when nobody advanced it for two minutes (a lost task, a crash).
HOLDER_KEY_ROTATION_BATCH = env_int("HOLDER_KEY_ROTATION_BATCH", 500)
beat_schedule: dict[str, dict[str, object]] = {}
beat_schedule["holder-keys-resume"] = {"task": "holder_keys.resume", "schedule": 60}

# webhooks (issue #14 item 4; docs/webhooks.md): consumer systems told of a licence's status
# changes. A failed delivery waits base × 2^(n−1) seconds (capped) before attempt n+1; after
# WEBHOOK_MAX_ATTEMPTS it is dead and shown in the console (库管理 → Webhook 投递).
apps += ["shared.webhooks"]
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 10)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_RETRY_MAX_SECONDS = env_int("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600)
WEBHOOK_HTTP_TIMEOUT = (3.0, float(env_int("WEBHOOK_HTTP_TIMEOUT", 10)))
WEBHOOK_REQUIRE_HTTPS = env_bool("WEBHOOK_REQUIRE_HTTPS", False)
beat_schedule["webhooks-sweep"] = {
    "task": "webhooks.sweep",
    "schedule": env_int("WEBHOOK_SWEEP_SECONDS", 15),
}
enum_name_overrides = {"WebhookEventStateEnum": "shared.webhooks.models.WebhookEvent.State"}

# notifications (issue #14; docs/notifications.md): an outbox of messages per user × channel.
apps += ["shared.notifications"]
NOTIFY_CHANNELS = [c for c in env("NOTIFY_CHANNELS", "email,sms").split(",") if c]
NOTIFY_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
NOTIFY_EMAIL_FROM = env("NOTIFY_EMAIL_FROM", "noreply@elicense.henan.gov.cn")
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
NOTIFY_SMS_URL = env("NOTIFY_SMS_URL", "")  # the SMS gateway (POST {id, phone, text})
NOTIFY_SMS_TOKEN = env("NOTIFY_SMS_TOKEN", "")
NOTIFY_FILE_DIR = env("NOTIFY_FILE_DIR", "")  # the file channel; default VAR_DIR/notifications
NOTIFY_SEND_TIMEOUT = env_int("NOTIFY_SEND_TIMEOUT", 10)  # seconds, every outbound call
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8)
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 60)  # doubled per attempt
NOTIFY_RETRY_MAX_SECONDS = env_int("NOTIFY_RETRY_MAX_SECONDS", 6 * 3600)
NOTIFY_SENDING_LEASE_SECONDS = env_int("NOTIFY_SENDING_LEASE_SECONDS", 300)
NOTIFY_EXPIRY_DAYS = [int(d) for d in env("NOTIFY_EXPIRY_DAYS", "90,30,7").split(",") if d]
NOTIFY_INSPECTION_WORKDAYS = env_int("NOTIFY_INSPECTION_WORKDAYS", 5)
beat_schedule["notifications-sweep"] = {
    "task": "notifications.sweep",
    "schedule": env_int("NOTIFY_SWEEP_SECONDS", 30),
}
beat_schedule["notifications-daily"] = {
    "task": "notifications.daily",
    "schedule": env_int("NOTIFY_DAILY_SECONDS", 86400),
}
