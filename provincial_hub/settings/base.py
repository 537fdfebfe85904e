"""The provincial hub: the provincial library that also aggregates the cities."""

from shared.conf.base import *  # noqa: F403
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
