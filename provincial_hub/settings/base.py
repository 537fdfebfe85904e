"""The provincial hub: the provincial library that also aggregates the cities."""

from shared.conf.base import *  # noqa: F403
from shared.conf.base import INSTALLED_APPS  # named: extended below
from shared.conf.divisions import PROVINCE_CODE, PROVINCE_NAME
from shared.conf.env import broker_url, database_config

LIBRARY_TIER = "hub"
LIBRARY_CODE = PROVINCE_CODE
LIBRARY_NAME = f"{PROVINCE_NAME}电子证照库"

ROOT_URLCONF = "provincial_hub.urls"
WSGI_APPLICATION = "provincial_hub.wsgi.application"
DATABASES = {"default": database_config("hub")}
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_url("hub")
CELERY_RESULT_BACKEND = None

# What only the province does: aggregate the cities (provincial_hub.aggregation).
# Listed before the shared apps, as at a node (Django takes a command from the first app).
_shared_apps = INSTALLED_APPS.index("shared.core")  # noqa: F405
INSTALLED_APPS = [
    *INSTALLED_APPS[:_shared_apps],  # noqa: F405
    "provincial_hub.aggregation",
    "provincial_hub.compliance",
    *INSTALLED_APPS[_shared_apps:],  # noqa: F405
]
# The province's statistics count the licences of every city, not only its own.
STATISTICS_ALL_LIBRARIES = True
# A copy, not shared.conf.base's dict: one tier's entries never reach the other's.
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,  # noqa: F405
    "federation-fetch-files": {
        "task": "federation.fetch_files_sweep",
        "schedule": FEDERATION_FILE_SWEEP_SECONDS,  # noqa: F405
    },
}
