"""What the access app listens to: the end of every request and task, to write the access
records SQLite held back. Wired by `AccessConfig.ready()` (see `shared.core.effects`)."""

from celery.signals import task_postrun
from django.core.signals import request_finished

from shared.access.log import log_flush_deferred


def connect() -> None:
    # SQLite holds back records written inside a transaction until it ends (see
    # `log.committed_write`); the API views write them before answering, and the end of
    # any other request or task writes what is left, after a rollback too.
    request_finished.connect(log_flush_deferred, dispatch_uid="access_log_flush_request")
    task_postrun.connect(log_flush_deferred, dispatch_uid="access_log_flush_task", weak=False)
