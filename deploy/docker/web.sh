#!/bin/sh
# gunicorn with an empty prometheus_client multiprocess directory of its own: /metrics adds up
# every gunicorn worker's counters from the files there, so the directory must start empty at
# each start (stale files of a previous run would be summed) and must not be shared with Celery
# (docs/operations.md 监控). Arguments go to gunicorn.
set -eu
PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/elicense-metrics}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export PROMETHEUS_MULTIPROC_DIR
exec gunicorn "$@"
