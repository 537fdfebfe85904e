"""The node's side of federated query and verify (issue #13 item 2): forward a consumer's
purpose-bound call to the hub over HTTP, signed by this node's federation key
(`shared.federation.auth.signed_json`), with a short timeout (`FEDERATION_QUERY_TIMEOUT`).

The hub's refusal comes back as the same error (code, status, message) a local call gives; a
hub that does not answer, answers 5xx, or refuses this library itself (`exchange.*`) is 503
`federation.hub_unavailable` with Retry-After — never a hang.
"""

import logging
from typing import Any

import requests
from django.conf import settings

from shared.access.federated import HubUnavailableError
from shared.core.errors import ApplicationError
from shared.federation.auth import signed_json
from shared.federation.models import Peer
from shared.federation.tls import exchange_tls

logger = logging.getLogger(__name__)

PATHS = {"query": "/api/v1/exchange/share/query/", "verify": "/api/v1/exchange/share/verify/"}
# Errors the hub answers about the exchange itself, not about the consumer's call.
LIBRARY_ERRORS = ("exchange.", "federation.")


class HubForwarder:
    @property
    def hub_code(self) -> str:
        return settings.FEDERATION_HUB_CODE

    def _peer(self) -> Peer | None:
        return Peer.objects.filter(code=self.hub_code, active=True).exclude(base_url="").first()

    def available(self) -> bool:
        return self._peer() is not None

    def call(self, *, operation: str, data: dict[str, Any]) -> dict[str, Any]:
        peer = self._peer()
        if peer is None:
            raise HubUnavailableError("no hub registered")
        url = peer.base_url.rstrip("/") + PATHS[operation]
        body, headers = signed_json(audience=self.hub_code, url=url, data=data)
        try:
            response = requests.post(
                url,
                data=body,
                headers=headers,
                timeout=settings.FEDERATION_QUERY_TIMEOUT,
                **exchange_tls(),
            )
        except requests.RequestException as exc:
            logger.warning("federation.hub_unavailable %s %s: %s", operation, url, exc)
            raise HubUnavailableError(type(exc).__name__) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code == 200 and isinstance(answer, dict):
            return answer
        code = answer.get("code") if isinstance(answer, dict) else None
        if (
            400 <= response.status_code < 500
            and isinstance(code, str)
            and not code.startswith(LIBRARY_ERRORS)
        ):
            detail = answer.get("detail") if isinstance(answer.get("detail"), dict) else {}
            raise ApplicationError(
                code[:64],
                str(answer.get("message", ""))[:500] or "省级枢纽拒绝了该请求",
                detail,
                status=response.status_code,
            )
        logger.warning(
            "federation.hub_unavailable %s %s: HTTP %s %s",
            operation,
            url,
            response.status_code,
            code,
        )
        raise HubUnavailableError(f"HTTP {response.status_code} {code or ''}".strip())
