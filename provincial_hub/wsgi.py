"""WSGI entry point of this deployment."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "provincial_hub.settings")
application = get_wsgi_application()
