"""Settings both deployments share. Each deployment's settings/base.py star-imports this and
adds its identity (tier, library code), database, broker and URLconf."""

from shared.conf.env import BASE_DIR, INSECURE_SECRET_PREFIX, env, env_bool, env_int

SECRET_KEY = env("SECRET_KEY", INSECURE_SECRET_PREFIX + "change-me-in-production")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "*").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "shared.core",
    "shared.accounts",
    "shared.calendars",
    "shared.catalog",
    "shared.licenses",
    "shared.files",
    "shared.access",
    "shared.federation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shared.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "shared.core.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "河南省电子证照库 API",
    "DESCRIPTION": "电子证照签发、管理与共享接口 (API v1)。错误统一为 {code, message, detail}。",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

# Celery: work that must not be lost (FIELD-NOTES, STYLE habit 5).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_BEAT_SCHEDULE = {
    "expire-due-licenses": {
        "task": "licenses.expire_due",
        "schedule": env_int("EXPIRY_SWEEP_SECONDS", 3600),
    },
    "resume-stale-batches": {
        "task": "licenses.resume_stale_batches",
        "schedule": env_int("BATCH_SWEEP_SECONDS", 60),
    },
}

BATCH_MAX_ITEMS = env_int("BATCH_MAX_ITEMS", 5000)
# A queued or running batch untouched this long is queued again (its job was lost or killed).
BATCH_STALE_SECONDS = env_int("BATCH_STALE_SECONDS", 120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# federation (DESIGN §6): exchange keys, adapter, delivery and reconciliation schedule.
FEDERATION_HUB_CODE = "410000"
FEDERATION_KEY_PASSWORD = env("FEDERATION_KEY_PASSWORD", SECRET_KEY)
FEDERATION_ADAPTER = env("EXCHANGE_ADAPTER", "http")
FEDERATION_AMQP_URL = env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
FEDERATION_AMQP_EXCHANGE = env("AMQP_EXCHANGE", "elicense.exchange")
FEDERATION_BATCH_SIZE = env_int("FEDERATION_BATCH_SIZE", 200)
FEDERATION_MAX_ATTEMPTS = env_int("FEDERATION_MAX_ATTEMPTS", 20)
FEDERATION_ONLINE_DEADLINE_SECONDS = env_int("FEDERATION_ONLINE_DEADLINE_SECONDS", 60)
FEDERATION_PUSH_DOWN = env_bool("FEDERATION_PUSH_DOWN", True)
FEDERATION_HTTP_TIMEOUT = (3.0, float(env_int("FEDERATION_HTTP_TIMEOUT", 30)))
CELERY_BEAT_SCHEDULE["federation-relay-sweep"] = {
    "task": "federation.relay_sweep",
    "schedule": env_int("FEDERATION_SWEEP_SECONDS", 5),
}
CELERY_BEAT_SCHEDULE["federation-reconcile"] = {
    "task": "federation.reconcile_all",
    "schedule": env_int("FEDERATION_RECONCILE_SECONDS", 900),
}
