"""持证人监视 (issue #14 item 5): a holder watches their own identity across the province, as a
certificate-transparency monitor watches a domain; the hub matches and the alerts come home."""

from django.apps import AppConfig


class WatchConfig(AppConfig):
    name = "shared.watch"
    label = "watch"
    verbose_name = "持证人监视"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A holder-code key rotation re-encrypts the watches' codes too.
        from shared.holder_keys.selectors import target_register
        from shared.watch.models import Watch

        target_register("watch.watch", Watch)
