"""What the core app listens to: the start and end of every Celery task, to handle database
connections as Django does per request (`tasks_db`). Wired by `CoreConfig.ready()`, as every
app wires its receivers (the convention: `shared.core.effects`)."""

from celery.signals import task_postrun, task_prerun

from shared.core.tasks_db import after_task, before_task


def connect() -> None:
    task_prerun.connect(before_task, weak=False, dispatch_uid="core.db_prerun")
    task_postrun.connect(after_task, weak=False, dispatch_uid="core.db_postrun")
