"""gunicorn reads ./gunicorn.conf.py from the directory it starts in (the repository root, in
the systemd units, the demo and the federation tests): its own log lines are rendered like every
other line of the project, JSON in production (shared.conf.logs; docs/operations.md 日志)."""

from shared.conf.logs import gunicorn_logging_config

logconfig_dict = gunicorn_logging_config()


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    """Each thread of a worker opens a warm database connection before the first request
    (shared.ops.warmup.warm_threads)."""
    from shared.ops.warmup import warm_threads

    warm_threads(worker)
