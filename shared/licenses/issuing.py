"""Issuing a licence: every check first, outside any transaction (the registry's answer comes
over the network), then a short transaction that writes the licence, its first version and its
issue event. Batches and legacy digitisation run the same two steps row by row."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.calendars.selectors import workday_calendar
from shared.catalog.models import LicenseType
from shared.core.counters import counter_next
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.core.prepared import PreparedRead
from shared.domain.deadlines import sync_deadline
from shared.domain.identifiers import build_identifier
from shared.domain.status import Action, Status
from shared.domain.text import check_text, is_blank
from shared.licenses import checks
from shared.licenses.models import License, Mode, SerialCounter
from shared.licenses.records import require_issuer, version_digest, write_event, write_version
from shared.licenses.signals import license_changed
from shared.licenses.validation import (
    Holder,
    check_holder,
    check_matter,
    check_surface,
    check_validity,
)

CLOCK_SKEW = timedelta(minutes=5)
# Every issue reads its type (a withdrawn one refuses at once): compiled once per process.
TYPE_BY_CODE = PreparedRead(
    lambda code: LicenseType.objects.filter(type_code=code).order_by("pk")[:1]
)
# 1949-10-01 00:00 Beijing time: no case of this administration is older. Earlier moments would
# also come back with Shanghai's local-mean-time offset (+08:05:43), which RFC 3339 cannot write.
EARLIEST_CASE_COMPLETION = datetime(1949, 9, 30, 16, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueOrder:
    """An issue whose every check passed, the registry's included: what `license_issue_write`
    writes. The checks ask the registry over the network, so they run before the transaction
    and the serial counter's lock is never held while it answers."""

    actor: User
    license_type: LicenseType
    number: str
    holder: Holder
    valid_from: date
    valid_to: date | None
    mode: str
    case_completed_at: datetime
    matter_code: str
    surface: dict[str, Any]


def _next_serial(license_type: LicenseType, year: int) -> str:
    """The next serial for (issuer, type, year); concurrent issues queue on the counter's row
    lock until commit and never share a serial."""
    last = counter_next(
        SerialCounter,
        {"issuer": license_type.issuer_id, "license_type": license_type.pk, "year": year},
    )
    return f"{year}{last:07d}"


def license_issue(
    *,
    actor: User,
    type_code: str,
    number: str,
    holder: Holder,
    valid_from: date,
    valid_to: date | None,
    mode: str,
    case_completed_at: datetime,
    matter_code: str = "",
    surface: dict[str, Any] | None = None,
) -> License:
    """Issue a licence of a published type owned by the actor's agency: every check first,
    outside any transaction (the registry's answer comes over the network), then a short
    transaction that writes it.

    With a type that requires review the licence starts `pending` and is released only when a
    different staff member approves it (art. 14); otherwise it is `valid` at once.
    """
    order = license_issue_check(
        actor=actor,
        type_code=type_code,
        number=number,
        holder=holder,
        valid_from=valid_from,
        valid_to=valid_to,
        mode=mode,
        case_completed_at=case_completed_at,
        matter_code=matter_code,
        surface=surface,
    )
    return license_issue_write(order=order)


def _issuable_type(
    actor: User, type_code: str, memo: dict[str, LicenseType] | None = None
) -> LicenseType:
    """The published type `actor`'s agency issues under `type_code`. `memo` keeps the types
    that passed for this actor, so that a batch reads each of its types once."""
    if memo is not None and type_code in memo:
        return memo[type_code]
    require_issuer(actor)
    license_type = TYPE_BY_CODE.first(type_code)
    if license_type is None:
        raise NotFoundError("catalog.type_not_found", "证照类型不存在", {"type_code": type_code})
    if license_type.issuer_id != actor.agency_id:
        raise ForbiddenError(
            "catalog.not_type_issuer", "本单位不是该证照类型的签发单位", {"type_code": type_code}
        )
    if license_type.state != LicenseType.State.PUBLISHED:
        raise ConflictError(
            "catalog.type_not_published",
            "证照类型未发布或已停用，不能签发",
            {"type_code": type_code, "state": license_type.state},
        )
    if memo is not None:
        memo[type_code] = license_type
    return license_type


def license_issue_check(
    *,
    actor: User,
    type_code: str,
    number: str,
    holder: Holder,
    valid_from: date,
    valid_to: date | None,
    mode: str,
    case_completed_at: datetime,
    matter_code: str = "",
    surface: dict[str, Any] | None = None,
    types: dict[str, LicenseType] | None = None,
) -> IssueOrder:
    """Every check of an issue, writing nothing. It asks the population/legal-entity registry
    over the network: call it before opening a transaction, never inside one. `types`: a memo
    of the types already found issuable for `actor` (one per chunk of a batch)."""
    license_type = _issuable_type(actor, type_code, types)
    if mode not in Mode.values:
        raise PermanentError("license.mode", "生成方式不正确", {"allowed": Mode.values})
    if is_blank(number):
        raise PermanentError("license.number_required", "证照编号不能为空")
    number = check_text(number.strip(), field="number", label="证照编号")
    if case_completed_at > timezone.now() + CLOCK_SKEW:
        raise PermanentError("license.case_completed_in_future", "办结时间不能晚于当前时间")
    if case_completed_at < EARLIEST_CASE_COMPLETION:
        raise PermanentError(
            "license.case_completed_too_early",
            "办结时间不能早于 1949-10-01",
            {"field": "case_completed_at"},
        )
    holder = check_holder(license_type, holder, legacy=mode == Mode.LEGACY)
    # Art. 25: the holder's name and code must agree with the population/legal-entity registry.
    checks.holder_check(
        holder_name=holder.name, holder_code=holder.code, holder_code_type=holder.code_type
    )
    check_validity(license_type, valid_from, valid_to)
    check_matter(license_type, matter_code)
    surface = surface or {}
    check_surface(license_type, surface)
    return IssueOrder(
        actor=actor,
        license_type=license_type,
        number=number,
        holder=holder,
        valid_from=valid_from,
        valid_to=valid_to,
        mode=mode,
        case_completed_at=case_completed_at,
        matter_code=matter_code,
        surface=surface,
    )


@transaction.atomic
def license_issue_write(*, order: IssueOrder) -> License:
    """Write the licence `order` describes, its first version and its issue event."""
    actor, license_type, holder, mode = order.actor, order.license_type, order.holder, order.mode
    number, valid_from, valid_to = order.number, order.valid_from, order.valid_to
    case_completed_at, matter_code, surface = (
        order.case_completed_at,
        order.matter_code,
        order.surface,
    )
    today = timezone.localdate()
    serial = _next_serial(license_type, today.year)
    identifier = build_identifier(
        type_code=license_type.type_code,
        issuer_code=actor.agency.code,  # type: ignore[union-attr]  # an issuer (_require_issuer)
        serial=serial,
        version=1,
    )
    deadline = sync_deadline(
        mode=mode,
        case_completed_at=case_completed_at,
        online_seconds=settings.FEDERATION_ONLINE_DEADLINE_SECONDS,
        # read only when a working-day rule applies (reading it costs a query)
        add_workdays=lambda start, days: workday_calendar().add_workdays(start, days),
        tz=timezone.get_current_timezone(),
    )
    lic = License(
        identifier=str(identifier),
        license_type=license_type,
        issuer=actor.agency,
        serial=serial,
        version=1,
        number=number,
        status=Status.pending if license_type.requires_review else Status.valid,
        holder_name=holder.name,
        holder_code=holder.code,  # type: ignore[misc]  # a HolderCode property, which the constructor takes
        holder_code_type=holder.code_type,
        issue_date=today,
        valid_from=valid_from,
        valid_to=valid_to,
        area_code=actor.agency.area_code or settings.LIBRARY_CODE,  # type: ignore[union-attr]  # an issuer (_require_issuer)
        matter_code=matter_code,
        surface=surface,
        mode=mode,
        case_completed_at=case_completed_at,
        sync_deadline=deadline.day,
        sync_deadline_provisional=deadline.provisional,
        library_code=settings.LIBRARY_CODE,
        submitted_by=actor,
    )
    checks.print_check(lic)
    lic.content_digest = version_digest(lic, license_type, "")
    lic.last_event_seq = 1  # the issue event, counted on the row as it is inserted
    lic.save()
    version = write_version(lic, actor=actor, previous_identifier="")
    event = write_event(
        lic, action=Action.issue, from_status="", actor=actor, data={"mode": mode}, seq=1
    )
    license_changed.send(
        sender=License, license=lic, event=event, new_version=True, version=version
    )
    return lic
