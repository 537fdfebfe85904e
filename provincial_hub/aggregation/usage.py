"""Usage flows back (issue #13 item 3): an access record the hub writes about a city's licence
goes down to that city, on the stream named after it, as `access.record`.

The outbox row is written by the sequencer, in the transaction that gives the record its
place in the hub's chain (`shared.access.log.sequenced_listener_register`): each record is
chained exactly once, so it goes down exactly once, in chain order, and a sequencing that
rolls back takes its outbox rows with it. (The record itself is appended earlier on a
connection that commits on its own — a refusal must outlive its caller's rollback — where an
outbox row would take the stream's counter lock a second time beside the caller's own
transaction.) Appending a record about a city's licence asks for a prompt sequencing; beat's
checkpoint sequences whatever a lost kick left.

The payload is the record's content as its leaf hash covers it, with the hub's id, `seq` and
leaf hash; the city checks the sender is the hub and the licence is its own, and imports it
once (`municipal_node.uplink.usage`).
"""

from typing import Any

from django.conf import settings

from shared.access.log import record_content
from shared.access.models import AccessRecord
from shared.core.effects import enqueue_on_commit
from shared.federation.models import Peer
from shared.federation.outbox import outbox_write

KIND = "access.record"
SCHEMA = 1
CHUNK = 1000


def _cities() -> set[str]:
    return set(
        Peer.objects.filter(active=True)
        .exclude(code=settings.LIBRARY_CODE)
        .values_list("code", flat=True)
    )


def record_payload(record: AccessRecord) -> dict[str, Any]:
    content = record_content(record)
    content["occurred_at"] = record.occurred_at.isoformat()
    return {
        "schema": SCHEMA,
        "record": content | {"id": record.pk, "seq": record.seq, "leaf_hash": record.leaf_hash},
    }


def records_sequenced(ids: list[int]) -> None:
    """In the sequencer's transaction: one `access.record` per record just chained that names a
    licence of a registered city, on that city's stream."""
    cities = _cities()
    if not cities:
        return
    for start in range(0, len(ids), CHUNK):
        records = (
            AccessRecord.objects.filter(
                pk__in=ids[start : start + CHUNK], source_library__in=cities
            )
            .exclude(identifier="")
            .order_by("seq")
        )
        for record in records:
            outbox_write(
                stream=record.source_library,
                kind=KIND,
                key=str(record.pk),
                payload=record_payload(record),
            )


def records_appended(rows: list[AccessRecord]) -> None:
    """A record about a city's licence asks for the sequencer soon (after the caller commits)."""
    hub = settings.LIBRARY_CODE
    if any(r.identifier and r.source_library and r.source_library != hub for r in rows):
        from shared.access.tasks import sequence

        enqueue_on_commit(sequence, coalesce=0.5)
