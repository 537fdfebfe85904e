from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "shared.access"
    label = "access"
    verbose_name = "共享与用证记录"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from celery.signals import task_postrun
        from django.core.signals import request_finished

        from shared.access.log import log_flush_deferred

        # SQLite holds back records written inside a transaction until it ends (see
        # `log.committed_write`); the API views write them before answering, and the end of
        # any other request or task writes what is left, after a rollback too.
        request_finished.connect(log_flush_deferred, dispatch_uid="access_log_flush_request")
        task_postrun.connect(log_flush_deferred, dispatch_uid="access_log_flush_task", weak=False)
