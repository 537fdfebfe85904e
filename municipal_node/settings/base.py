"""A municipal node: one city's comprehensive e-license library (NODE_CODE)."""

from shared.conf.base import *  # noqa: F403
from shared.conf.divisions import CITIES
from shared.conf.env import ImproperlyConfiguredError, broker_url, database_config, env

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
