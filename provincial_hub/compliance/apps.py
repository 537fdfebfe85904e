from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    """The province's supervision (art. 31, 33): rules evaluated daily, rectification notices
    that travel down to the city that answers them, and public criticism."""

    name = "provincial_hub.compliance"
    label = "compliance"
    verbose_name = "合规监管"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from provincial_hub.compliance import federation
        from shared.domain.notices import ANSWER_KIND
        from shared.federation.apply import HANDLERS

        HANDLERS[ANSWER_KIND] = federation.apply_answer
