"""The three messages of the holder watch across tiers (docs/federation.md, 持证人监视).

- `watch.subscribe` (city → hub): `{"schema", "watch": {"id", "holder": {"name", "code",
  "code_type"}, "since"}}` — the holder code travels in plaintext inside the signed envelope,
  as a licence's does; the hub keeps its own ciphertext and keyed digest.
- `watch.cancel` (city → hub): `{"schema", "watch": {"id", "cancelled_at"}}`.
- `watch.alert` (hub → the watch's home city): `{"schema", "alert": {"id", "watch", <ALERT_FIELDS>}}`,
  `id` being the hub's `WatchHit` id (the receiver stores it once).
"""

from typing import Any

from shared.watch.models import Watch

SCHEMA = 1
SUBSCRIBE_KIND = "watch.subscribe"
CANCEL_KIND = "watch.cancel"
ALERT_KIND = "watch.alert"

# What an alert says, as `WatchAlert` stores it (besides its origin and its watch).
ALERT_FIELDS = (
    "kind",
    "action",
    "action_label",
    "identifier",
    "type_code",
    "type_name",
    "library_code",
    "library_name",
    "issuer_code",
    "issuer_name",
    "agency_name",
    "occurred_at",
)


def subscribe_payload(watch: Watch) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "watch": {
            "id": str(watch.pk),
            "holder": {
                "name": watch.holder_name,
                "code": watch.holder_code,
                "code_type": watch.holder_code_type,
            },
            "since": watch.since.isoformat(),
        },
    }


def cancel_payload(watch: Watch) -> dict[str, Any]:
    cancelled_at = watch.cancelled_at.isoformat() if watch.cancelled_at else None
    return {"schema": SCHEMA, "watch": {"id": str(watch.pk), "cancelled_at": cancelled_at}}
