"""Online annual inspection (网络年检, art. 26): holders submit within the type's window, the issuer decides, beat suspends the uninspected."""

from django.apps import AppConfig


class InspectionsConfig(AppConfig):
    name = "shared.inspections"
    label = "inspections"
    verbose_name = "网络年检"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.federation.apply import HANDLERS
        from shared.inspections import receivers
        from shared.inspections.sync import KIND, apply_inspection

        receivers.connect()
        # Both tiers apply it (a library holds the inspections of the licences it mirrors);
        # `apply_inspection` checks that the sender owns the licence and the inspection.
        HANDLERS[KIND] = apply_inspection
