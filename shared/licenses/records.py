"""The rows every licence write makes: a version with its content digest, an event; and who
may make them (a staff member of an active issuing agency)."""

from typing import Any

from shared.accounts.models import User
from shared.catalog.models import LicenseType
from shared.core.errors import ForbiddenError
from shared.domain.canonical import license_version_digest
from shared.domain.status import Action
from shared.licenses import codec
from shared.licenses.models import License, LicenseEvent, LicenseVersion


def require_issuer(actor: User) -> None:
    agency = actor.agency
    if agency is None or not agency.is_issuer or not agency.active:
        raise ForbiddenError("license.not_issuer", "只有证照签发单位的人员可以签发和管理证照")


def version_digest(lic: License, license_type: LicenseType, previous_identifier: str) -> str:
    return license_version_digest(
        codec.content(
            lic,
            type_code=license_type.type_code,
            issuer_code=lic.issuer.code,
            previous_identifier=previous_identifier,
        )
    )


def write_version(lic: License, *, actor: User | None, previous_identifier: str) -> LicenseVersion:
    lic.content_digest = version_digest(lic, lic.license_type, previous_identifier)
    return LicenseVersion.objects.create(
        license=lic,
        **codec.version_content(lic),
        previous_identifier=previous_identifier,
        content_digest=lic.content_digest,
        created_by=actor,
    )


def write_event(
    lic: License,
    *,
    action: Action,
    from_status: str,
    actor: User | None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    seq: int | None = None,
) -> LicenseEvent:
    """Append the licence's next event; `seq` when the caller already counted it on the row."""
    if seq is None:
        lic.last_event_seq += 1
        seq = lic.last_event_seq
    return LicenseEvent.objects.create(
        license=lic,
        seq=seq,
        action=action.value,
        from_status=from_status,
        to_status=lic.status,
        version=lic.version,
        identifier=lic.identifier,
        reason=reason,
        data=data or {},
        actor=actor,
        actor_agency_code=actor.agency.code if actor is not None and actor.agency else "",
    )
