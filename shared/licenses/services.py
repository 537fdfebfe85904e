"""Writes for licences: issue, review, every lifecycle action, expiry.

Each business action is one function in one transaction that writes its `LicenseEvent` (and,
for renew/amend, a new immutable `LicenseVersion`) together with the state change. The licence
row is locked (`select_for_update`) so two concurrent actions serialise: the second one sees the
first one's result and is refused if it no longer applies (409), and versions stay gap-free.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from shared.access.registry import registry_check
from shared.accounts.models import User
from shared.calendars.selectors import workday_calendar
from shared.catalog.models import LicenseType
from shared.catalog.surface import validate_surface
from shared.core.counters import counter_next
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.canonical import license_version_digest
from shared.domain.dates import check_date
from shared.domain.deadlines import sync_deadline
from shared.domain.errors import DomainError
from shared.domain.holder_codes import validate_holder_code
from shared.domain.identifiers import build_identifier, parse_identifier
from shared.domain.status import TRANSITIONS, Action, Status, apply_action
from shared.domain.text import check_text, check_text_tree, is_blank
from shared.files import documents, keystore
from shared.files.render import FontNotFoundError, page_check, register_font
from shared.licenses import codec
from shared.licenses.models import License, LicenseEvent, LicenseVersion, Mode, SerialCounter
from shared.licenses.signals import license_changed

# Actions whose reason the record must carry (art. 17: the change must be explained).
REASON_REQUIRED = frozenset(
    {Action.suspend, Action.revoke, Action.annul, Action.cancel, Action.return_}
)
CLOCK_SKEW = timedelta(minutes=5)
# 1949-10-01 00:00 Beijing time: no case of this administration is older. Earlier moments would
# also come back with Shanghai's local-mean-time offset (+08:05:43), which RFC 3339 cannot write.
EARLIEST_CASE_COMPLETION = datetime(1949, 9, 30, 16, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    name: str
    code: str
    code_type: str


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


def _today() -> date:
    return timezone.localdate()


def _require_issuer(actor: User) -> None:
    agency = actor.agency
    if agency is None or not agency.is_issuer or not agency.active:
        raise ForbiddenError("license.not_issuer", "只有证照签发单位的人员可以签发和管理证照")


def _check_holder_name(name: str) -> str:
    if is_blank(name):
        raise PermanentError("holder.name_required", "持证主体名称不能为空")
    return check_text(name.strip(), field="holder.name", label="持证主体名称")


def _check_holder(license_type: LicenseType, holder: Holder, *, legacy: bool) -> Holder:
    name = _check_holder_name(holder.name)
    checked = validate_holder_code(holder.code, holder.code_type, today=_today(), legacy=legacy)
    category = license_type.holder_category
    if category == LicenseType.HolderCategory.PERSON and holder.code_type == "001":
        raise PermanentError("holder.category", "该证照的持证主体为个人，不能使用统一社会信用代码")
    if category == LicenseType.HolderCategory.LEGAL and holder.code_type == "111":
        raise PermanentError("holder.category", "该证照的持证主体为法人，不能使用公民身份号码")
    return Holder(name=name, code=checked.code, code_type=holder.code_type)


def _check_validity(license_type: LicenseType, valid_from: date, valid_to: date | None) -> None:
    check_date(valid_from, field="valid_from", label="有效期起始日期")
    if valid_to is not None:
        check_date(valid_to, field="valid_to", label="有效期截止日期")
    if valid_to is None:
        if license_type.validity_max_days is not None:
            raise PermanentError(
                "validity.long_term_not_allowed",
                f"该证照最长有效期为 {license_type.validity_max_days} 天，不能长期有效",
            )
        return
    if valid_to < valid_from:
        raise PermanentError("validity.range", "有效期截止日期不能早于起始日期")
    days = (valid_to - valid_from).days
    if license_type.validity_max_days is not None and days > license_type.validity_max_days:
        raise PermanentError(
            "validity.too_long",
            f"有效期超过该证照允许的最长期限（{license_type.validity_max_days} 天）",
        )
    if license_type.validity_min_days is not None and days < license_type.validity_min_days:
        raise PermanentError(
            "validity.too_short",
            f"有效期短于该证照要求的最短期限（{license_type.validity_min_days} 天）",
        )


def _check_matter(license_type: LicenseType, matter_code: str) -> None:
    check_text(matter_code, field="matter_code", label="关联事项编码")
    if not matter_code or not license_type.related_matters:
        return
    codes = {m["code"] if isinstance(m, dict) else str(m) for m in license_type.related_matters}
    if matter_code not in codes:
        raise PermanentError(
            "license.matter_unknown",
            "关联事项编码不属于该证照类型的关联事项",
            {"matter_code": matter_code, "allowed": sorted(codes)},
        )


def _check_surface(license_type: LicenseType, surface: Any) -> None:
    validate_surface(license_type.surface_schema, surface)
    check_text_tree(surface, field="surface", label="照面信息")


def _check_printable(lic: License) -> None:
    """Refuse now what the signed file could not show exactly: a character the licence font
    has no glyph for, a text that cannot be fitted on the page (`shared.files.render`). The
    page is laid out as the file will be, from unsaved rows; the QR code is an image, so a
    placeholder URL serves. The render checks again, so an unprintable file is never made."""
    try:
        font_path = keystore.font_path()
        register_font(font_path)
    except FontNotFoundError:
        # No usable font here (none installed, FILES_CJK_FONT wrong): no file is made at all
        # (the render fails and says why), so nothing can differ from the data.
        return
    version = LicenseVersion(license=lic, **codec.version_content(lic))
    now = timezone.now()
    qr = documents.QrToken(
        token="",
        url=settings.FILES_PUBLIC_BASE_URL,
        issued_at=now,
        expires_at=now + timedelta(days=lic.license_type.qr_validity_days),
    )
    try:
        doc = documents.license_document(lic=lic, version=version, qr=qr)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        # The type's template is data edited in the catalogue: one of the wrong shape would
        # fail every render of this type, so it is refused here with its reason, not a 500.
        raise PermanentError(
            "file.template_invalid",
            "证照类型的模板格式无效，无法生成证照文件，请联系目录管理员修正模板",
            {"type_code": lic.license_type.type_code, "error": type(exc).__name__},
        ) from exc
    page_check(doc, font_path=font_path)


def _next_serial(license_type: LicenseType, year: int) -> str:
    """The next serial for (issuer, type, year); concurrent issues queue on the counter's row
    lock until commit and never share a serial."""
    last = counter_next(
        SerialCounter,
        {"issuer": license_type.issuer_id, "license_type": license_type.pk, "year": year},
    )
    return f"{year}{last:07d}"


def _digest(lic: License, license_type: LicenseType, previous_identifier: str) -> str:
    return license_version_digest(
        codec.content(
            lic,
            type_code=license_type.type_code,
            issuer_code=lic.issuer.code,
            previous_identifier=previous_identifier,
        )
    )


def _write_version(lic: License, *, actor: User | None, previous_identifier: str) -> LicenseVersion:
    lic.content_digest = _digest(lic, lic.license_type, previous_identifier)
    return LicenseVersion.objects.create(
        license=lic,
        **codec.version_content(lic),
        previous_identifier=previous_identifier,
        content_digest=lic.content_digest,
        created_by=actor,
    )


def _write_event(
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
) -> IssueOrder:
    """Every check of an issue, writing nothing. It asks the population/legal-entity registry
    over the network: call it before opening a transaction, never inside one."""
    _require_issuer(actor)
    license_type = LicenseType.objects.filter(type_code=type_code).first()
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
    holder = _check_holder(license_type, holder, legacy=mode == Mode.LEGACY)
    # Art. 25: the holder's name and code must agree with the population/legal-entity registry.
    registry_check(
        holder_name=holder.name, holder_code=holder.code, holder_code_type=holder.code_type
    )
    _check_validity(license_type, valid_from, valid_to)
    _check_matter(license_type, matter_code)
    surface = surface or {}
    _check_surface(license_type, surface)
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
    today = _today()
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
    _check_printable(lic)
    lic.content_digest = _digest(lic, license_type, "")
    lic.last_event_seq = 1  # the issue event, counted on the row as it is inserted
    lic.save()
    version = _write_version(lic, actor=actor, previous_identifier="")
    event = _write_event(
        lic, action=Action.issue, from_status="", actor=actor, data={"mode": mode}, seq=1
    )
    license_changed.send(
        sender=License, license=lic, event=event, new_version=True, version=version
    )
    return lic


def license_get_for_update(*, identifier: str) -> License:
    """Lock the licence named by any of its versions' identifiers."""
    try:
        parse_identifier(identifier)
    except DomainError as exc:  # a malformed identifier names nothing here
        raise NotFoundError("license.not_found", "证照不存在") from exc
    version = LicenseVersion.objects.filter(identifier=identifier).only("license_id").first()
    if version is None:
        raise NotFoundError("license.not_found", "证照不存在")
    return (
        License.objects.select_for_update()
        .select_related("license_type", "issuer")
        .get(pk=version.license_id)
    )


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
) -> tuple[License, LicenseEvent]:
    """Apply one lifecycle action (DESIGN §4) to the licence and record its event.

    `actor=None` is the system (expiry by the clock). Renew and amend write a new version whose
    identifier carries the next version number; the old version stays readable, superseded.
    """
    if action not in TRANSITIONS:
        raise PermanentError("license.action_unknown", "不支持的证照操作", {"action": str(action)})
    action = Action(action)
    lic = license_get_for_update(identifier=identifier)
    if actor is not None:
        _require_issuer(actor)
        if actor.agency_id != lic.issuer_id:
            raise NotFoundError("license.not_found", "证照不存在")
    if expected_version is not None and expected_version != lic.version:
        raise ConflictError(
            "license.version_conflict",
            f"证照已更新为第 {lic.version} 版，请刷新后重试",
            {"current_version": lic.version, "expected_version": expected_version},
        )
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and is_blank(reason):
        raise PermanentError("action.reason_required", "该操作必须填写原因", {"field": "reason"})
    check_text(reason, field="reason", label="原因", multiline=True)
    if action in {Action.approve, Action.return_} and actor is not None:
        if lic.submitted_by_id == actor.pk:
            raise ForbiddenError("review.same_person", "审核人不能是提交人，请由本单位其他人员审核")

    from_status = lic.status
    outcome = apply_action(status=Status(lic.status), pledged=lic.pledged, action=action)
    data: dict[str, Any] = {}
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
    if action == Action.pledge:
        if is_blank(pledgee):
            raise PermanentError(
                "pledge.pledgee_required", "质押必须填写质权人", {"field": "pledgee"}
            )
        check_text(pledgee.strip(), field="pledgee", label="质权人")
        if until is None or until < _today():
            raise PermanentError(
                "pledge.until", "质押期限必须是今天或以后的日期", {"field": "until"}
            )
        check_date(until, field="until", label="质押期限")
        lic.pledgee, lic.pledge_until = pledgee.strip(), until
        data.update({"pledgee": lic.pledgee, "until": until.isoformat()})
    elif action == Action.release:
        data.update({"pledgee": lic.pledgee})
        lic.pledgee, lic.pledge_until = "", None
    if action == Action.approve:
        lic.reviewed_by = actor
    lic.status = outcome.status.value
    lic.pledged = outcome.pledged
    if outcome.new_version:
        _check_printable(lic)
        _write_version(lic, actor=actor, previous_identifier=previous_identifier)
    event = _write_event(
        lic, action=action, from_status=from_status, actor=actor, reason=reason, data=data
    )
    lic.save()
    license_changed.send(sender=License, license=lic, event=event, new_version=outcome.new_version)
    return lic, event


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
        _check_validity(license_type, new_from, valid_to)
        lic.valid_from, lic.valid_to = new_from, valid_to
    else:
        if surface is None and holder_name is None and not valid_to_given:
            raise PermanentError(
                "amend.nothing_to_change", "变更必须给出照面信息、持证主体名称或有效期"
            )
        if valid_to_given:
            _check_validity(license_type, lic.valid_from, valid_to)
            lic.valid_to = valid_to
        if holder_name is not None:
            lic.holder_name = _check_holder_name(holder_name)
    if surface is not None:
        _check_surface(license_type, surface)
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
