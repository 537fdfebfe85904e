from django.apps import AppConfig


class OpsConfig(AppConfig):
    """No models: registered for `ready()`, which sets up the log lines and the request id's
    way through Celery (shared.ops.logs, shared.ops.receivers)."""

    name = "shared.ops"
    label = "ops"
    verbose_name = "运维"

    def ready(self) -> None:
        from shared.ops import logs, receivers

        logs.configure()
        receivers.connect()
