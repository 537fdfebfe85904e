"""Settings both deployments share. Each deployment's settings/base.py star-imports this and
adds its identity (tier, library code), database, broker and URLconf."""

from shared.conf.env import BASE_DIR, INSECURE_SECRET_PREFIX, env, env_bool, env_int
from shared.conf.logs import logging_config

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
    "shared.audit",
    "shared.accounts",
    "shared.calendars",
    "shared.catalog",
    "shared.licenses",
    "shared.files",
    "shared.access",
    "shared.delegation",  # a legal person's staff act for it in the holder portal (issue #14)
    "shared.federation",
    "shared.reviews",
    "shared.inspections",
    "shared.statistics",
    "shared.watch",  # 持证人监视 (issue #14 item 5)
    "shared.console",  # the staff console (issue #15): screens over the same services
    "shared.demo",  # `seed_demo` only; no app imports it
    "shared.holder_keys",  # holder-code key versions, rotation and retirement (issue #14)
    "shared.ops",  # no models: `ops backup|restore`, structured logs, the request id through Celery
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shared.core.middleware.NulCharacterMiddleware",
    "shared.audit.context.RequestIdMiddleware",  # audit rows name the request they came in
    "shared.ops.logs.RequestLogMiddleware",  # … and so does its log line (method, status, time)
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
                "shared.console.context.console",
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
    "DEFAULT_SCHEMA_CLASS": "shared.core.api.schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "shared.core.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "shared.core.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "shared.core.api.parsers.JSONParser",
        "shared.core.api.parsers.MultiPartParser",
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

# Sessions, API tokens and the browser's content policy (issue #10; docs/access-log.md).
# A session (holder portal, admin site) ends when the browser closes, and on the server after
# SESSION_IDLE_MINUTES without a request: each request pushes the expiry forward (only sessions
# that hold something are saved, so Bearer API calls write nothing).
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A token issued without `expires_at` lasts this long; none may last longer than the maximum.
API_TOKEN_DEFAULT_DAYS = env_int("API_TOKEN_DEFAULT_DAYS", 90)
API_TOKEN_MAX_DAYS = env_int("API_TOKEN_MAX_DAYS", 366)
# Content-Security-Policy (django-csp): nothing but this origin runs or loads. Styles may be
# inline (the holder portal's and Swagger UI's <style> blocks); Swagger UI at /api/docs/ loads
# its scripts from the sidecar's static files and its initialiser from /api/docs/?script=
# (SpectacularSwaggerSplitView), and its CSS draws icons from data: URIs.
INSTALLED_APPS += ["csp"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# The database alias of reads that may be seconds stale (statistics, dashboards:
# shared.core.replica). The hub points it at its streaming replica when DATABASE_REPLICA_URL is
# set; everything else reads and writes `default`.
STALE_READS_DATABASE = "default"

# Celery: work that must not be lost (FIELD-NOTES, STYLE habit 5).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_DEFAULT_QUEUE = "default"
# Keep database connections across tasks (Celery's Django fixup otherwise closes them around
# every task); shared.core.tasks_db drops broken or aged ones as Django does per request.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
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

# 网络年检 (art. 26): once a day, suspend the licences whose inspection window closed without an
# approved inspection (shared.inspections.suspension; both tiers issue, so both run it).
CELERY_BEAT_SCHEDULE["inspections-close-window"] = {
    "task": "inspections.close_window",
    "schedule": env_int("INSPECTION_SWEEP_SECONDS", 86400),
}

BATCH_MAX_ITEMS = env_int("BATCH_MAX_ITEMS", 5000)
# A request body may be this large: a full bulk upload (BATCH_MAX_ITEMS rows of about a
# kilobyte each) or an envelope of whole-licence repairs must fit; Django's default is 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 16 * 1024 * 1024)

# A queued or running batch untouched this long is queued again (its job was lost or killed).
BATCH_STALE_SECONDS = env_int("BATCH_STALE_SECONDS", 120)

# Structured log lines with a request id (shared.ops.logs; docs/operations.md 日志): text for
# a terminal here, JSON lines in production (shared.conf.production.production_logging).
LOG_FORMAT = env("LOG_FORMAT", "console")
LOGGING = logging_config(fmt=LOG_FORMAT, level=env("LOG_LEVEL", "INFO"))
LOGGING_CONFIG = "shared.conf.logs.apply"  # … and Python's warnings go the same way

# files (issue #3): signed licence files, QR tokens, verification, PKI.
# Rendering and sealing run on their own `signing` queue (prefetch 1, acks late: see above).
# Declaring both queues makes a worker started without -Q consume both; a worker dedicated to
# signing is started with `-Q signing`.
from kombu import Queue  # noqa: E402

CELERY_TASK_QUEUES = [Queue("default"), Queue("signing")]  # the hub may declare them quorum
# The rate limits' shared counters: the broker's Redis, or this one when the broker is not Redis
# (a hub on RabbitMQ: provincial_hub/settings/base.py); neither: per process.
RATE_LIMIT_REDIS_URL = ""
CELERY_TASK_ROUTES = {"files.*": {"queue": "signing"}}
CELERY_BEAT_SCHEDULE["files-retry-pending"] = {
    "task": "files.retry_pending",
    "schedule": env_int("FILES_SWEEP_SECONDS", 60),
}
# The demo's credentials file (deploy/demo.py sets it): the landing page at / lists the demo
# accounts (names and roles) while it is set; production refuses to start with it.
DEMO_CREDENTIALS_FILE = env("DEMO_CREDENTIALS_FILE", "")
# How old the licence status a public QR scan shows may be (seconds; shared.files.verify_cache).
VERIFY_STATUS_SECONDS = env_int("VERIFY_STATUS_SECONDS", 2)
CRYPTO_SUITE = env("CRYPTO_SUITE", "gm")  # QR tokens, trust list, status lists: gm | intl
from shared.conf.files import *  # noqa: E402, F403

# Development creates the CA on first use; production (DEBUG off) requires `pki init`.
FILES_PKI_AUTO_INIT = env_bool("FILES_PKI_AUTO_INIT", DEBUG)
FILES_COPY_DAYS = env_int("FILES_COPY_DAYS", 30)  # how long a 加注件 can be downloaded
FILES_PKCS11_LIB = env("FILES_PKCS11_LIB", "")  # e.g. /usr/lib/softhsm/libsofthsm2.so
FILES_PKCS11_TOKEN = env("FILES_PKCS11_TOKEN", "")
FILES_PKCS11_PIN = env("FILES_PKCS11_PIN", "")
FILES_UPLOAD_MAX_BYTES = env_int("FILES_UPLOAD_MAX_BYTES", 20 * 1024 * 1024)
# Province-wide trust (issue #13; docs/federation.md "Provincial trust list"): an unknown key id
# refreshes the provincial list at most this often; another city's status list is fetched with
# this timeout. The beat entries (send trust.keys, fetch the list) are in each tier's settings.
TRUST_LIST_REFRESH_MIN_SECONDS = env_int("TRUST_LIST_REFRESH_MIN_SECONDS", 30)
TRUST_LIST_FETCH_SECONDS = env_int("TRUST_LIST_FETCH_SECONDS", 300)
TRUST_KEYS_SECONDS = env_int("TRUST_KEYS_SECONDS", 300)
TRUST_STATUS_LIST_TIMEOUT = (2.0, float(env_int("TRUST_STATUS_LIST_TIMEOUT", 5)))

# access (issue #5): grants, purpose-bound use, the access log, holders (DESIGN §7).
INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp", "axes"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as django-axes requires
AUTHENTICATION_BACKENDS = [
    "shared.access.auth.AxesRequestBackend",  # lockout after repeated failures (art. 29)
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 30) / 60  # hours
# Per account, not per address: five failures for one username lock that username (from any
# address) and nobody else; every holder behind one proxy or NAT shares an address. Axes counts
# attempts for unknown usernames too, so a lockout does not tell which accounts exist.
AXES_LOCKOUT_PARAMETERS = ["username"]
# A failure during the lockout is not recorded: the lock ends AXES_COOLOFF_TIME after the failure
# that set it, however often someone keeps trying (django-axes' default extends it each time).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "access/holder/locked.html"
# A sign-in form (holder portal, staff console) answers a lockout with its own page; the rest
# (the admin site) gets the holder portal's (shared.access.signin.lockout_response).
AXES_LOCKOUT_CALLABLE = "shared.access.signin.lockout_response"
AXES_VERBOSE = False  # no "AXES: BEGIN …" banner on every manage.py command
OTP_TOTP_ISSUER = "河南省电子证照库"
# Holder codes at rest (SM4 + HMAC-SM3 digest); production refuses the development default.
HOLDER_CODE_KEY = env("HOLDER_CODE_KEY", INSECURE_SECRET_PREFIX + "holder-code-key")
# Key versions (docs/pki.md): "2:<secret>,1:<old secret>", the writing version first; when
# empty, HOLDER_CODE_KEY alone is version 1. Rotate with `manage.py node|hub holder_keys`.
HOLDER_CODE_KEYS = env("HOLDER_CODE_KEYS", "")
# GET /metrics: loopback, or `Authorization: Bearer <METRICS_TOKEN>` (production requires it).
METRICS_TOKEN = env("METRICS_TOKEN", "")
ACCESS_LOG_ENABLED = env_bool("ACCESS_LOG_ENABLED", True)  # off only in bench/query; prod refuses
ACCESS_RATE_PER_MINUTE = env_int("ACCESS_RATE_PER_MINUTE", 600)  # purpose-bound calls per agency
ACCESS_MISS_PER_MINUTE = env_int("ACCESS_MISS_PER_MINUTE", 60)  # empty or refused answers
ACCESS_ANON_PER_MINUTE = env_int("ACCESS_ANON_PER_MINUTE", 60)  # anonymous refusals per address
ACCESS_CHECKPOINT_EVERY = env_int("ACCESS_CHECKPOINT_EVERY", 1000)  # records …
ACCESS_CHECKPOINT_SECONDS = env_int("ACCESS_CHECKPOINT_SECONDS", 60)  # … or seconds
ACCESS_RETENTION_DAYS = 1096  # art. 27: at least three years; the purge refuses anything younger
ACCESS_LOG_KEY_FILE = env("ACCESS_LOG_KEY_FILE", "")  # SM2 checkpoint key; default VAR_DIR/keys
# Encrypts that key at rest (PKCS#8); default: derived from SECRET_KEY (production refuses it).
ACCESS_LOG_KEY_PASSWORD = env("ACCESS_LOG_KEY_PASSWORD", "")
ACCESS_ARCHIVE_DIR = env("ACCESS_ARCHIVE_DIR", "")  # default VAR_DIR/access-archive
BULK_EXPORT_DIR = env("BULK_EXPORT_DIR", "")  # default VAR_DIR/bulk-exports
BULK_EXPORT_DAYS = env_int("BULK_EXPORT_DAYS", 7)  # how long an approved export can be fetched
BULK_MAX_ROWS = env_int("BULK_MAX_ROWS", 100000)
REGISTRY_ADAPTER = env("REGISTRY_ADAPTER", "off")  # off | http (population / legal-entity)
REGISTRY_URL = env("REGISTRY_URL", "")
REGISTRY_TIMEOUT = float(env_int("REGISTRY_TIMEOUT", 5))
CELERY_BEAT_SCHEDULE["access-checkpoint"] = {
    "task": "access.checkpoint",
    "schedule": ACCESS_CHECKPOINT_SECONDS,
}
CELERY_BEAT_SCHEDULE["access-purge"] = {"task": "access.purge_expired", "schedule": 86400}
# the access log's monthly partitions (PostgreSQL): three months ahead, made daily
CELERY_BEAT_SCHEDULE["access-partitions"] = {
    "task": "access.partitions_ensure",
    "schedule": 86400,
}
CELERY_BEAT_SCHEDULE["access-bulk-sweep"] = {"task": "access.bulk_sweep", "schedule": 300}
# review requests (art. 24): reminders at 2 and 1 working days left, overdue flagged once.
CELERY_BEAT_SCHEDULE["reviews-sweep"] = {
    "task": "reviews.sweep",
    "schedule": env_int("REVIEWS_SWEEP_SECONDS", 3600),
}

# federation (DESIGN §6): exchange keys, adapter, delivery and reconciliation schedule.
FEDERATION_HUB_CODE = "410000"
FEDERATION_KEY_PASSWORD = env("FEDERATION_KEY_PASSWORD", SECRET_KEY)
FEDERATION_ADAPTER = env("EXCHANGE_ADAPTER", "http")
FEDERATION_AMQP_URL = env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
FEDERATION_AMQP_EXCHANGE = env("AMQP_EXCHANGE", "elicense.exchange")
# Events per envelope: SIZE first, then resized between MIN and MAX (federation.sizing).
FEDERATION_BATCH_SIZE = env_int("FEDERATION_BATCH_SIZE", 200)
FEDERATION_BATCH_MIN = env_int("FEDERATION_BATCH_MIN", 20)
FEDERATION_BATCH_MAX = env_int("FEDERATION_BATCH_MAX", 1000)
# The envelope form sent: 3 (over HTTP; 2 on the bus, and to a receiver that answers 3 with
# 415), or 1 while a receiver older than version 2 runs (docs/federation.md).
FEDERATION_ENVELOPE_VERSION = env_int("FEDERATION_ENVELOPE_VERSION", 3)
FEDERATION_MAX_ATTEMPTS = env_int("FEDERATION_MAX_ATTEMPTS", 20)
# The relay's retry back-off doubles per attempt (2, 4, 8 … s) up to this cap. The federation
# tests lower it: a receiver back from an outage is otherwise retried only minutes later.
FEDERATION_MAX_BACKOFF_SECONDS = env_int("FEDERATION_MAX_BACKOFF_SECONDS", 300)
FEDERATION_ONLINE_DEADLINE_SECONDS = env_int("FEDERATION_ONLINE_DEADLINE_SECONDS", 60)
FEDERATION_PUSH_DOWN = env_bool("FEDERATION_PUSH_DOWN", True)
FEDERATION_HTTP_TIMEOUT = (3.0, float(env_int("FEDERATION_HTTP_TIMEOUT", 30)))
# A consumer waits on a forwarded query or verify (issue #13): connect, then read, in seconds.
FEDERATION_QUERY_TIMEOUT = (2.0, float(env_int("FEDERATION_QUERY_TIMEOUT", 8)))
# Every outbound call to another library (envelopes, status, digests, resend, files, the trust
# list, forwarded queries) presents this client certificate: nginx's exchange listener (:8443,
# deploy/nginx) refuses a caller without one from the federation CA. The CA bundle verifies the
# peer's server certificate (default: the system's trust store). Key empty: the key is in the
# certificate file. shared.federation.tls reads them per call.
EXCHANGE_TLS_CLIENT_CERT = env("EXCHANGE_TLS_CLIENT_CERT", "")
EXCHANGE_TLS_CLIENT_KEY = env("EXCHANGE_TLS_CLIENT_KEY", "")
EXCHANGE_TLS_CA_BUNDLE = env("EXCHANGE_TLS_CA_BUNDLE", "")
CELERY_BEAT_SCHEDULE["federation-relay-sweep"] = {
    "task": "federation.relay_sweep",
    "schedule": env_int("FEDERATION_SWEEP_SECONDS", 5),
}
# Licence files travel by digest: the hub fetches a city's file it lacks (DESIGN §6; the
# sweep's beat entry is in provincial_hub.settings, the checkpoint forwarding's in
# municipal_node.settings: each tier schedules its own tasks).
FEDERATION_FILE_MAX_BYTES = env_int("FEDERATION_FILE_MAX_BYTES", 50 * 1024 * 1024)
FEDERATION_FILE_MAX_ATTEMPTS = env_int("FEDERATION_FILE_MAX_ATTEMPTS", 12)
FEDERATION_FILE_SWEEP_SECONDS = env_int("FEDERATION_FILE_SWEEP_SECONDS", 30)
CELERY_BEAT_SCHEDULE["federation-reconcile"] = {
    "task": "federation.reconcile_all",
    "schedule": env_int("FEDERATION_RECONCILE_SECONDS", 900),
}

# PostgreSQL features the embedded SQLite of the demo lacks and does without: a covering index
# (federation leaves) and a unique constraint with NULLS NOT DISTINCT (one active key per agency).
SILENCED_SYSTEM_CHECKS = ["models.W040", "models.W047"]
# django-axes warns when the lockout leaves out the client address; it does so on purpose (per
# account, not per address: see AXES_LOCKOUT_PARAMETERS above).
SILENCED_SYSTEM_CHECKS += ["axes.W006"]

# statistics (issue #12, art. 27, 31): monthly counters kept by a rollup every minute.
# A city counts its own licences; the hub every library's (provincial_hub.settings).
STATISTICS_ALL_LIBRARIES = False
STATISTICS_ROLLUP_SECONDS = env_int("STATISTICS_ROLLUP_SECONDS", 60)
# A licence event or arrival id stepped over (its transaction not committed yet) is looked for
# again this long before it is taken for a rolled-back insert; review requests and inspections
# are re-read this far behind their watermark.
STATISTICS_GAP_SECONDS = env_int("STATISTICS_GAP_SECONDS", 600)
STATISTICS_OVERLAP_SECONDS = env_int("STATISTICS_OVERLAP_SECONDS", 600)
CELERY_BEAT_SCHEDULE["statistics-rollup"] = {
    "task": "statistics.rollup",
    "schedule": STATISTICS_ROLLUP_SECONDS,
}

# The holder-facing services of issue #14 (identity, holder keys, webhooks, notifications).
from shared.conf import holders  # noqa: E402
from shared.conf.holders import *  # noqa: E402, F403

INSTALLED_APPS += holders.apps
CELERY_BEAT_SCHEDULE |= holders.beat_schedule
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] |= holders.enum_name_overrides  # type: ignore[operator]

# GET /metrics: django-prometheus beside the project's collectors (shared.conf.observability).
from shared.conf import observability  # noqa: E402
from shared.conf.observability import *  # noqa: E402, F403

INSTALLED_APPS += observability.apps
MIDDLEWARE.insert(0, observability.middleware_first)
# Second to last: django-axes requires its own middleware to be the last.
MIDDLEWARE.insert(MIDDLEWARE.index("axes.middleware.AxesMiddleware"), observability.middleware_last)
