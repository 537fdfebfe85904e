"""持证人监视 (issue #14 item 5): a holder watches their own identity across the province, as a
certificate-transparency monitor watches a domain; the hub matches and the alerts come home."""

from django.apps import AppConfig


class WatchConfig(AppConfig):
    name = "shared.watch"
    label = "watch"
    verbose_name = "持证人监视"
    default_auto_field = "django.db.models.BigAutoField"
