"""`/readyz` and `/metrics` at either tier (DESIGN §8); `/healthz` stays in shared.core."""

from django.urls import path

from shared.ops import metrics, readiness

urlpatterns = [
    path("readyz", readiness.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]
