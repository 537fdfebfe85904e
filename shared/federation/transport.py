"""Which adapter carries a stream: settings choose http or amqp per peer (DESIGN §6)."""

from django.conf import settings

from shared.exchange.adapters import AmqpAdapter, ExchangeAdapter, HttpAdapter
from shared.federation.auth import request_token
from shared.federation.models import Peer
from shared.federation.tls import exchange_tls

# The receiving endpoints: the hub's are fixed by DESIGN §8; a node receives under federation/.
PATHS = {
    "hub": ("/api/v1/exchange/envelopes/", "/api/v1/exchange/status"),
    "node": ("/api/v1/federation/envelopes/", "/api/v1/federation/status"),
}


def adapter_for(peer: Peer) -> ExchangeAdapter:
    receiver_tier = "hub" if peer.code == settings.FEDERATION_HUB_CODE else "node"
    envelopes_path, status_path = PATHS[receiver_tier]
    http = HttpAdapter(
        base_url=peer.base_url,
        sender=settings.LIBRARY_CODE,
        envelopes_path=envelopes_path,
        status_path=status_path,
        auth_token=lambda method, url: request_token(audience=peer.code, method=method, url=url),
        timeout=settings.FEDERATION_HTTP_TIMEOUT,
        **exchange_tls(),
    )
    if (peer.adapter or settings.FEDERATION_ADAPTER) == "amqp":
        return AmqpAdapter(
            url=settings.FEDERATION_AMQP_URL,
            exchange=settings.FEDERATION_AMQP_EXCHANGE,
            routing_key=peer.code,
            status_source=http.status,
        )
    return http
