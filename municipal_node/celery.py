"""The Celery app of this deployment (its own broker, queues and beat)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "municipal_node.settings")

app = Celery("municipal_node")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
