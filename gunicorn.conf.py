"""gunicorn reads ./gunicorn.conf.py from the directory it starts in (the repository root, in
the systemd units, the demo and the federation tests): its own log lines are rendered like every
other line of the project, JSON in production (shared.conf.logs; docs/operations.md 日志)."""

from shared.conf.logs import gunicorn_logging_config

logconfig_dict = gunicorn_logging_config()
