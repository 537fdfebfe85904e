"""Writes for licences after issuing (`shared.licenses.issuing`): review, every lifecycle
action, expiry.

Each business action is one function in one transaction that writes its `LicenseEvent` (and,
for renew/amend, a new immutable `LicenseVersion`) together with the state change. The licence
row is locked (`select_for_update`) so two concurrent actions serialise: the second one sees the
first one's result and is refused if it no longer applies (409), and versions stay gap-free.
"""

from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.dates import check_date
from shared.domain.errors import DomainError
from shared.domain.identifiers import parse_identifier
from shared.domain.status import TRANSITIONS, Action, Status, apply_action
from shared.domain.text import check_text, is_blank
from shared.licenses import checks, lookups
from shared.licenses.models import License, LicenseEvent
from shared.licenses.records import require_issuer, write_event, write_version
from shared.licenses.signals import license_changed
from shared.licenses.validation import check_holder_name, check_surface, check_validity

# Actions whose reason the record must carry (art. 17: the change must be explained).
REASON_REQUIRED = frozenset(
    {Action.suspend, Action.revoke, Action.annul, Action.cancel, Action.return_}
)


def _today() -> date:
    return timezone.localdate()


def license_get_for_update(*, identifier: str) -> License:
    """Lock the licence named by any of its versions' identifiers."""
    try:
        parse_identifier(identifier)
    except DomainError as exc:  # a malformed identifier names nothing here
        raise NotFoundError("license.not_found", "证照不存在") from exc
    terms = lookups.licence_terms_by_version(identifier)
    # `of=("self",)`: the licence row only. Without it PostgreSQL locks the joined type and
    # issuer rows too, and every change of an agency's licences queued on its agency row (and
    # deadlocked with a bulk upload inserting licences under it: bench/province).
    lic = (
        License.objects.select_for_update(of=("self",))
        .select_related("license_type", "issuer")
        .filter(**terms)
        .first()
    )
    if lic is None:
        raise NotFoundError("license.not_found", "证照不存在")
    return lic


@transaction.atomic
def license_act(
    *,
    actor: User | None,
    identifier: str,
    action: Action,
    reason: str = "",
    expected_version: int | None = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
    valid_to_given: bool = False,
    surface: dict[str, Any] | None = None,
    holder_name: str | None = None,
    pledgee: str = "",
    until: date | None = None,
    year: int | None = None,
    event_data: dict[str, Any] | None = None,
) -> tuple[License, LicenseEvent]:
    """Apply one lifecycle action (DESIGN §4) to the licence and record its event.

    `actor=None` is the system (expiry by the clock, suspension for a missed inspection).
    Renew and amend write a new version whose identifier carries the next version number; the
    old version stays readable, superseded. `inspect` records `year` on the licence (its
    `inspected_year` never goes back) and in the event. `event_data`: what the caller adds to
    the event's data, e.g. why the system suspends (`{"cause": "inspection", "year": 2026}`).
    """
    if action not in TRANSITIONS:
        raise PermanentError("license.action_unknown", "不支持的证照操作", {"action": str(action)})
    action = Action(action)
    lic = license_get_for_update(identifier=identifier)
    reason = _check_act(lic, actor=actor, action=action, reason=reason, expected=expected_version)
    from_status = lic.status
    outcome = apply_action(status=Status(lic.status), pledged=lic.pledged, action=action)
    data: dict[str, Any] = dict(event_data or {})
    previous_identifier = lic.identifier
    if outcome.new_version:
        _prepare_new_version(
            lic,
            action=action,
            valid_from=valid_from,
            valid_to=valid_to,
            valid_to_given=valid_to_given,
            surface=surface,
            holder_name=holder_name,
        )
        data["previous_identifier"] = previous_identifier
    if action in {Action.pledge, Action.release}:
        _set_pledge(lic, action=action, pledgee=pledgee, until=until, data=data)
    if action == Action.inspect:
        _set_inspected(lic, year=year, data=data)
    if action == Action.approve:
        lic.reviewed_by = actor
    lic.status = outcome.status.value
    lic.pledged = outcome.pledged
    if outcome.new_version:
        checks.print_check(lic)
        write_version(lic, actor=actor, previous_identifier=previous_identifier)
    event = write_event(
        lic, action=action, from_status=from_status, actor=actor, reason=reason, data=data
    )
    lic.save()
    license_changed.send(sender=License, license=lic, event=event, new_version=outcome.new_version)
    return lic, event


def _check_act(
    lic: License, *, actor: User | None, action: Action, reason: str, expected: int | None
) -> str:
    """Whether `actor` may apply `action` to `lic` now; the reason, stripped."""
    if actor is not None:
        require_issuer(actor)
        if actor.agency_id != lic.issuer_id:
            raise NotFoundError("license.not_found", "证照不存在")
    if expected is not None and expected != lic.version:
        raise ConflictError(
            "license.version_conflict",
            f"证照已更新为第 {lic.version} 版，请刷新后重试",
            {"current_version": lic.version, "expected_version": expected},
        )
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and is_blank(reason):
        raise PermanentError("action.reason_required", "该操作必须填写原因", {"field": "reason"})
    check_text(reason, field="reason", label="原因", multiline=True)
    if action in {Action.approve, Action.return_} and actor is not None:
        if lic.submitted_by_id == actor.pk:
            raise ForbiddenError("review.same_person", "审核人不能是提交人，请由本单位其他人员审核")
    return reason


def _set_pledge(
    lic: License, *, action: Action, pledgee: str, until: date | None, data: dict[str, Any]
) -> None:
    """Pledge to `pledgee` until `until`, or release; the event's data says to whom."""
    if action == Action.release:
        data.update({"pledgee": lic.pledgee})
        lic.pledgee, lic.pledge_until = "", None
        return
    if is_blank(pledgee):
        raise PermanentError("pledge.pledgee_required", "质押必须填写质权人", {"field": "pledgee"})
    check_text(pledgee.strip(), field="pledgee", label="质权人")
    if until is None or until < _today():
        raise PermanentError("pledge.until", "质押期限必须是今天或以后的日期", {"field": "until"})
    check_date(until, field="until", label="质押期限")
    lic.pledgee, lic.pledge_until = pledgee.strip(), until
    data.update({"pledgee": lic.pledgee, "until": until.isoformat()})


def _set_inspected(lic: License, *, year: int | None, data: dict[str, Any]) -> None:
    """Record an approved annual inspection (网络年检) of `year`."""
    if year is None or not 2000 <= year <= 2199:
        raise PermanentError("inspect.year", "年检年度无效", {"field": "year"})
    lic.inspected_year = max(lic.inspected_year or 0, year)
    data["year"] = year


def _prepare_new_version(
    lic: License,
    *,
    action: Action,
    valid_from: date | None,
    valid_to: date | None,
    valid_to_given: bool,
    surface: dict[str, Any] | None,
    holder_name: str | None,
) -> None:
    license_type = lic.license_type
    if action == Action.renew:
        if not valid_to_given:
            raise PermanentError("renew.valid_to_required", "延续必须给出新的有效期截止日期")
        new_from = valid_from or max(_today(), (lic.valid_to or _today()) + timedelta(days=1))
        if valid_to is not None and lic.valid_to is not None and valid_to <= lic.valid_to:
            raise PermanentError("renew.valid_to", "延续后的有效期截止日期必须晚于原截止日期")
        check_validity(license_type, new_from, valid_to)
        lic.valid_from, lic.valid_to = new_from, valid_to
    else:
        if surface is None and holder_name is None and not valid_to_given:
            raise PermanentError(
                "amend.nothing_to_change", "变更必须给出照面信息、持证主体名称或有效期"
            )
        if valid_to_given:
            check_validity(license_type, lic.valid_from, valid_to)
            lic.valid_to = valid_to
        if holder_name is not None:
            lic.holder_name = check_holder_name(holder_name)
    if surface is not None:
        check_surface(license_type, surface)
        lic.surface = surface
    lic.version += 1
    lic.issue_date = _today()
    lic.identifier = str(parse_identifier(lic.identifier).with_version(lic.version))


def license_expire_due(*, today: date | None = None, limit: int = 1000) -> int:
    """Expire every valid licence whose validity ended before `today` (by the clock). Each
    licence is its own transaction, so one failure does not hold back the rest."""
    today = today or _today()
    identifiers = list(
        License.objects.filter(status=Status.valid, valid_to__lt=today).values_list(
            "identifier", flat=True
        )[:limit]
    )
    expired = 0
    for identifier in identifiers:
        try:
            license_act(actor=None, identifier=identifier, action=Action.expire)
            expired += 1
        except (PermanentError, DomainError):
            continue  # changed meanwhile (renewed, revoked…): nothing to expire
    return expired
