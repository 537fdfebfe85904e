from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "shared.webhooks"
    label = "webhooks"
    verbose_name = "状态变更订阅（Webhook）"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from shared.webhooks import receivers

        receivers.connect()
