"""Who owns what a federation event would change (DESIGN §6, issue #10 item 1).

A signed envelope proves who sent it, not that the sender may change what it carries. Every
apply path (`apply`, `bulk_apply`, hence `ingest` at both tiers) asks here first, and an event
that would touch a record its sender does not own is dead-lettered with `federation.not_owner`
and changes nothing:

- a **licence** belongs to the library named by its `library_code` (where it was issued): the
  snapshot must name the sender, and so must the row the receiver already holds (a snapshot
  cannot claim someone else's licence by naming itself);
- an **agency** belongs to the library of its area: a city's node for an area inside the city
  (the division code's first four digits, 济源 4190 included), the hub for a provincial agency
  (level `province`) or any area outside the cities. The receiver judges an agency it holds by
  its stored row, a new one by the snapshot; an event naming an issuer its sender does not own
  is refused (so a city can neither rename another's agency nor issue in its name);
- a **licence type** belongs to the owner of its issuing agency.

The hub's downward stream to a city is held to the same rules with the hub as sender: it may
change only the hub's licences, types and agencies.
"""

import logging
from typing import Any

from shared.accounts.libraries import agency_library
from shared.accounts.models import Agency
from shared.core.errors import PermanentError

logger = logging.getLogger(__name__)

NOT_OWNER = "federation.not_owner"


class NotOwnerError(PermanentError):
    """The sender of an event does not own the record the event would change."""

    status_code = 403


def agency_owner(snapshot: dict[str, Any], stored: Agency | None) -> str:
    """The owner of the agency a snapshot names: the stored row's when this library holds it
    (a snapshot cannot move an agency to its sender by changing its area)."""
    if stored is not None:
        return agency_library(level=stored.level, area_code=stored.area_code)
    return agency_library(level=str(snapshot.get("level", "")), area_code=snapshot["area_code"])


def _refuse(*, sender: str, record: str, key: str, owner: str, message: str) -> NotOwnerError:
    logger.warning("%s sender=%s record=%s key=%s owner=%s", NOT_OWNER, sender, record, key, owner)
    return NotOwnerError(
        NOT_OWNER,
        message,
        {"sender": sender, "record": record, "key": key, "owner": owner},
    )


def check_agency(snapshot: dict[str, Any], stored: Agency | None, *, sender: str) -> None:
    owner = agency_owner(snapshot, stored)
    if owner != sender:
        raise _refuse(
            sender=sender,
            record="agency",
            key=str(snapshot.get("code", "")),
            owner=owner,
            message="发送方无权引用或修改其他证照库的单位",
        )


def check_type(type_code: str, issuer_owner: str, *, sender: str) -> None:
    if issuer_owner != sender:
        raise _refuse(
            sender=sender,
            record="type",
            key=type_code,
            owner=issuer_owner,
            message="发送方无权修改其他证照库的证照类型",
        )


def check_licence(snapshot: dict[str, Any], stored_library: str | None, *, sender: str) -> None:
    """The licence snapshot must be the sender's, and so must the row held here (if any)."""
    claimed = str(snapshot.get("library_code", ""))
    for owner in (claimed, stored_library):
        if owner is not None and owner != sender:
            raise _refuse(
                sender=sender,
                record="license",
                key=str(snapshot.get("identifier", "")),
                owner=owner,
                message="发送方无权修改其他证照库的证照",
            )


def owns_agency(snapshot: dict[str, Any], stored: Agency | None, *, sender: str) -> bool:
    """`check_agency` as a test, for the bulk paths (which leave refusals to the per-event path)."""
    try:
        return agency_owner(snapshot, stored) == sender
    except (KeyError, TypeError):
        return False
