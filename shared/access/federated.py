"""Federated query and verify (issue #13 item 2): a consumer at a city node asks about a licence
the node does not hold — or about any licence in the province — through its own node, which
forwards the purpose-bound call to the hub.

Shared code declares the hook; the city's tier app (`municipal_node.uplink`) registers the
forwarder, which speaks signed HTTP to the hub. At the hub, and at a node without a registered
hub peer, nothing is forwarded and every call is answered locally as before.

What travels (the node vouches for it with its federation signature): the consumer agency
(code, name, level, area), the user (name and id at the node), matter, purpose, what the call
names, and the agency's city grants for the matter (`city_grants`); the hub decides by its
own rule (docs/federation.md, "Federated query and usage") and records the access; the node
records it too, saying it was forwarded (`detail.forwarded_to`).
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.access.models import AccessRecord
from shared.access.selectors import grants_active
from shared.core.errors import ApplicationError, RetryableError

HUB_UNAVAILABLE = "federation.hub_unavailable"
RETRY_AFTER_SECONDS = 30


class HubUnavailableError(RetryableError):
    """The hub did not answer in time (down, unreachable, or refusing this library)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(
            HUB_UNAVAILABLE,
            "省级枢纽暂时无法应答，请稍后重试（本库未持有该证照，需经省级枢纽查询）",
            {"retry_after_seconds": RETRY_AFTER_SECONDS, "reason": reason[:200]},
        )


class Forwarder(Protocol):
    """Sends one purpose-bound call to the hub and returns its JSON answer; raises the hub's
    refusal as an `ApplicationError` (same code, status and message) or `HubUnavailableError`."""

    @property
    def hub_code(self) -> str: ...

    def available(self) -> bool: ...

    def call(self, *, operation: str, data: dict[str, Any]) -> dict[str, Any]: ...


_forwarder: Forwarder | None = None


def forwarder_register(forwarder: Forwarder | None) -> None:
    global _forwarder
    _forwarder = forwarder


def forwarder() -> Forwarder | None:
    """The registered forwarder when a hub is there to forward to, else None (answer locally)."""
    if _forwarder is None or not _forwarder.available():
        return None
    return _forwarder


def hub_code() -> str:
    return _forwarder.hub_code if _forwarder is not None else ""


def may_forward(user: Any) -> bool:
    """Only an active consumer agency's staff ask the province (the issuer and the library
    administrator answer for their own library's licences)."""
    agency = getattr(user, "agency", None) if getattr(user, "is_authenticated", False) else None
    return agency is not None and agency.active and agency.is_consumer and not user.is_holder


def caller_document(*, user: Any, matter_code: str) -> dict[str, Any]:
    """Who asks, as the hub needs to know: the agency, the person, and the agency's city
    grants for the matter (types by code; the hub honours them by its rule)."""
    agency = user.agency
    grants = grants_active(agency=agency, matter_code=matter_code.strip()).select_related(
        "license_type"
    )
    return {
        "agency": {
            "code": agency.code,
            "name": agency.name,
            "level": agency.level,
            "area_code": agency.area_code,
            "is_consumer": agency.is_consumer,
        },
        "user": {"username": user.get_username(), "ref": user.pk},
        "city_grants": sorted(
            {g.license_type.type_code for g in grants},
        ),
    }


def forward(
    *,
    user: Any,
    operation: str,
    data: dict[str, Any],
    matter_code: str,
    use_cause: str,
    holder_code: str = "",
    holder_code_type: str = "",
) -> tuple[dict[str, Any], AccessRecord]:
    """Forward one call to the hub and record it here (before the answer leaves): what the hub
    answered (allowed / none / refused with its code), or its absence (503
    `federation.hub_unavailable`, Retry-After). Returns the hub's answer without its `record`,
    and this library's record."""
    from shared.access.services import access_record

    fwd = forwarder()
    assert fwd is not None  # callers ask `forwarder()` first
    body = {**data, **caller_document(user=user, matter_code=matter_code)}
    common = {
        "user": user,
        "operation": operation,
        "matter_code": matter_code.strip(),
        "use_cause": use_cause,
        "holder_code": holder_code,
        "holder_code_type": holder_code_type,
    }
    try:
        answer = fwd.call(operation=operation, data=body)
    except ApplicationError as error:
        access_record(
            **common,
            licenses=[],
            outcome=AccessRecord.Outcome.REFUSED,
            reason_code=error.code,
            detail={"status": error.status_code, "forwarded_to": fwd.hub_code},
        )
        error.access_recorded = True  # type: ignore[attr-defined]
        raise
    record = answer.pop("record", None)
    record = record if isinstance(record, dict) else {}
    outcome = str(record.get("outcome", ""))
    if outcome not in AccessRecord.Outcome.values:
        outcome = AccessRecord.Outcome.NONE
    mine = access_record(
        **common,
        licenses=[_licence_row(item) for item in record.get("licenses", [])][:100],
        outcome=outcome,
        reason_code=str(record.get("reason_code", ""))[:64],
        detail={
            "forwarded_to": fwd.hub_code,
            "hub_request_id": str(record.get("request_id", ""))[:40],
            "endpoint": operation,
        },
    )
    return answer, mine


def _licence_row(item: Any) -> dict[str, str]:
    """A licence the hub named, as this library's record keeps it (the holder digest is this
    library's own: derived from the code the caller gave, not taken from the hub)."""
    item = item if isinstance(item, dict) else {}
    return {
        "identifier": str(item.get("identifier", ""))[:120],
        "type_code": str(item.get("type_code", ""))[:21],
        "issuer_code": str(item.get("issuer_code", ""))[:18],
        "source_library": str(item.get("source_library", ""))[:6],
    }
