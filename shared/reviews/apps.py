"""Review requests (复核申请, art. 24): a holder or an application agency disputes a licence's data; the issuer answers within 5 working days."""

from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "shared.reviews"
    label = "reviews"
    verbose_name = "复核申请"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.federation.apply import HANDLERS
        from shared.reviews import receivers, sync

        receivers.connect()
        # Both tiers install it; only the hub is ever sent requests (a city's go up), and the
        # handler's ownership checks refuse anything else.
        HANDLERS[sync.KIND] = sync.apply_review
