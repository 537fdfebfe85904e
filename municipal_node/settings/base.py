"""A municipal node: one city's comprehensive e-license library (NODE_CODE)."""

from shared.conf.base import *  # noqa: F403
from shared.conf.base import INSTALLED_APPS  # named: extended below
from shared.conf.divisions import CITIES
from shared.conf.env import (
    ImproperlyConfiguredError,
    broker_url,
    database_config,
    env,
    env_int,
)

NODE_CODE = env("NODE_CODE", "410100")
if NODE_CODE not in CITIES:
    raise ImproperlyConfiguredError(
        f"NODE_CODE={NODE_CODE!r} 不是河南省的市级节点代码; expected one of {', '.join(CITIES)}"
    )

LIBRARY_TIER = "node"
LIBRARY_CODE = NODE_CODE
LIBRARY_NAME = f"{CITIES[NODE_CODE]}电子证照库"

ROOT_URLCONF = "municipal_node.urls"
WSGI_APPLICATION = "municipal_node.wsgi.application"
DATABASES = {"default": database_config(f"node-{NODE_CODE}")}
CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = broker_url(f"node-{NODE_CODE}")
CELERY_RESULT_BACKEND = None

# What only a city node does: send its changes, files and checkpoints up to the hub.
# Listed before the shared apps: its `federation` command extends the shared one (Django takes a
# command from the first app that has it).
_shared_apps = INSTALLED_APPS.index("shared.core")  # noqa: F405
INSTALLED_APPS = [
    *INSTALLED_APPS[:_shared_apps],  # noqa: F405
    "municipal_node.uplink",
    "municipal_node.notices",
    *INSTALLED_APPS[_shared_apps:],  # noqa: F405
]
# A copy, not shared.conf.base's dict: one tier's entries never reach the other's.
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,  # noqa: F405
    "federation-forward-checkpoint": {
        "task": "federation.forward_checkpoint",
        "schedule": env_int("ACCESS_CHECKPOINT_SECONDS", 60),
    },
    # Province-wide trust (issue #13): send this library's keys up when they changed, fetch
    # the hub's signed provincial trust list.
    "trust-send-keys": {"task": "trust.send_keys", "schedule": TRUST_KEYS_SECONDS},  # noqa: F405
    "trust-fetch-list": {
        "task": "trust.fetch_list",
        "schedule": TRUST_LIST_FETCH_SECONDS,  # noqa: F405
    },
}

# /metrics: this tier's rectification notices beside the review requests (shared.ops.deadlines).
METRICS_DEADLINE_SOURCES = {
    **METRICS_DEADLINE_SOURCES,  # noqa: F405
    "notice": "municipal_node.notices.metrics.notice_deadlines",
}
