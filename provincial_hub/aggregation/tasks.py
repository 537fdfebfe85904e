"""Thin hub tasks: fetch city files by digest (the names predate the move and stay: beat rows
and queued messages name them)."""

from typing import Any

from celery import shared_task
from celery.signals import beat_init

from provincial_hub.aggregation.files import remote_file_fetch, remote_file_sweep
from provincial_hub.aggregation.partitions import ensure_years
from provincial_hub.aggregation.sector import sector_calls_purge as purge
from provincial_hub.aggregation.trust import trust_list_publish


@shared_task(name="federation.fetch_file", acks_late=True)
def fetch_remote_file(file_id: int) -> str:
    """Fetch one city file by digest; failures are recorded on the row (the sweep retries)."""
    return remote_file_fetch(file_id=file_id).state


@shared_task(name="federation.fetch_files_sweep")
def fetch_files_sweep() -> int:
    """Beat: pending fetches whose task was lost, failed ones whose back-off has passed."""
    ids = remote_file_sweep()
    for file_id in ids:
        fetch_remote_file.delay(file_id)
    return len(ids)


@shared_task(name="aggregation.sector_calls_purge")
def sector_calls_purge() -> int:
    """Beat, daily: forget the sector libraries' call records past their keeping time."""
    return purge()


@shared_task(name="trust.publish_list")
def publish_trust_list() -> int:
    """Beat and after the hub's own keys change: a new list version when anything changed."""
    return trust_list_publish().version


@shared_task(name="aggregation.partitions_ahead")
def partitions_ahead() -> int:
    """Beat, monthly: next year's partitions of the licence tables exist before its first row
    (a row of a year without one would land in its city's DEFAULT sub-partition)."""
    return len(ensure_years())


@beat_init.connect
def _publish_at_start(sender: Any = None, **_: Any) -> None:
    # The hub's own keys in the list from the start.
    publish_trust_list.delay()
