"""WSGI entry point of this deployment: the application, with its URLconf and views already
imported (shared.ops.warmup), so that no first request pays for them."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "municipal_node.settings")
application = get_wsgi_application()

from shared.ops.warmup import warm_up  # noqa: E402 (needs the apps loaded)

warm_up()
