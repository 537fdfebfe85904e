"""The provincial trust list, a city's side (issue #13, item 1): send this library's public
trust material up (`trust.keys`) when it changed, and fetch the hub's signed list.

`trust_keys_forward` runs after every key change (rotation, revocation; the
`trust_material_changed` signal, after commit) and on beat: it writes a `trust.keys` event only
when the material's digest differs from the last one sent, so running it twice sends nothing
twice. `trust_list_fetch` runs on beat and on demand (an unknown key id at verification,
rate-limited by `shared.files.trust.trust_refresh_on_demand`); it keeps a list only when the
hub's federation signature verifies (`shared.federation.trust.trust_list_accept`).
"""

import logging

import requests
from django.conf import settings
from django.db import transaction

from shared.core.errors import RetryableError
from shared.federation.keys import peer_get
from shared.federation.models import OutboxEvent
from shared.federation.outbox import outbox_write
from shared.federation.tls import exchange_tls
from shared.federation.trust import KIND, trust_keys_payload, trust_list_accept
from shared.files.trust import trust_list_failed

logger = logging.getLogger(__name__)

PATH = "/api/v1/federation/trust-list/"


def trust_keys_forward() -> bool:
    """Send the material up if it differs from the last sent; True when an event was written."""
    hub = settings.FEDERATION_HUB_CODE
    payload = trust_keys_payload()
    with transaction.atomic():
        last = (
            OutboxEvent.objects.select_for_update()
            .filter(stream=hub, kind=KIND)
            .order_by("-seq")
            .first()
        )
        if last is not None and last.payload.get("sm3") == payload["sm3"]:
            return False
        outbox_write(stream=hub, kind=KIND, key=f"trust:{settings.LIBRARY_CODE}", payload=payload)
    return True


def trust_list_fetch() -> bool:
    """Fetch, verify and keep the hub's list; True when a list was stored (not older than the
    one held). A refused list raises `PermanentError`; an unreachable hub `RetryableError`."""
    hub = peer_get(settings.FEDERATION_HUB_CODE)
    url = hub.base_url.rstrip("/") + PATH
    try:
        response = requests.get(url, timeout=settings.FEDERATION_HTTP_TIMEOUT, **exchange_tls())
        body = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as exc:
        trust_list_failed(f"trust_list.unreachable: {exc}")
        raise RetryableError("trust_list.unreachable", "省级库信任列表暂时无法获取") from exc
    if body is None:
        trust_list_failed(f"trust_list.unreachable: HTTP {response.status_code}")
        raise RetryableError(
            "trust_list.unreachable",
            "省级库信任列表暂时无法获取",
            {"status": response.status_code},
        )
    try:
        return trust_list_accept(body, hub_code=hub.code)
    except Exception as exc:
        logger.warning("trust_list.refused %s", exc)
        trust_list_failed(f"{getattr(exc, 'code', type(exc).__name__)}: {exc}")
        raise
