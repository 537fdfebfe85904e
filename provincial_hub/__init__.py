"""Provincial hub: the provincial e-license library and aggregator."""

from .celery import app as celery_app

__all__ = ["celery_app"]
