from django.apps import AppConfig


class FederationConfig(AppConfig):
    name = "shared.federation"
    label = "federation"
    verbose_name = "汇聚与交换"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.federation import key_announcements, receivers, rotation
        from shared.federation.apply import HANDLERS

        receivers.connect()
        # Key rotation (issue #14): both tiers take a peer's announced successor exchange key.
        HANDLERS[rotation.ANNOUNCE] = key_announcements.apply_key_announce
        HANDLERS[rotation.RETIRE] = key_announcements.apply_key_retire
