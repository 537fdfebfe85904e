"""Writes for delegations: grant (or renew), revoke, and the check every act under one goes
through (`delegation_use`). Each grant and revocation is an audit row in its transaction; the
acts themselves are access records naming both identities (`Acting.record_detail`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.core.errors import ForbiddenError, NotFoundError, PermanentError
from shared.delegation.models import Delegation
from shared.domain.holder_codes import CODE_TYPE_USCC

DAYS_MAX = 366


def _snapshot(row: Delegation) -> dict[str, Any]:
    return {
        "principal": row.principal.username,
        "delegate": row.delegate.username,
        "expires_at": row.expires_at.isoformat(),
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


def is_legal_person(user: Any) -> bool:
    return bool(getattr(user, "is_holder", False) and user.holder_code_type == CODE_TYPE_USCC)


def _is_natural_person(user: User | None) -> bool:
    return bool(user is not None and user.is_holder and user.holder_code_type != CODE_TYPE_USCC)


def _live(*, principal: User, delegate: User) -> Delegation | None:
    return (
        Delegation.objects.select_for_update(of=("self",))
        .select_related("principal", "delegate")
        .filter(principal=principal, delegate=delegate, revoked_at__isnull=True)
        .first()
    )


@transaction.atomic
def delegation_grant(*, principal: User, delegate_username: str, days: int) -> Delegation:
    """Let `delegate_username` (a natural person's holder account) act for `principal` (a legal
    person's holder account) for `days` days from now; granting an existing live pair again
    renews it (one row per pair, `delegation_one_live_per_pair`)."""
    if not is_legal_person(principal):
        raise ForbiddenError(
            "delegation.not_legal_person", "只有法人持证人（统一社会信用代码）可以授权经办人"
        )
    if not 1 <= days <= DAYS_MAX:
        raise PermanentError(
            "delegation.days", f"授权有效天数须在 1 至 {DAYS_MAX} 天之间", {"field": "days"}
        )
    delegate = User.objects.filter(username=delegate_username.strip()[:150], is_active=True).first()
    if not _is_natural_person(delegate):
        raise PermanentError(
            "delegation.not_holder",
            "被授权人必须是已开通的自然人持证人账号",
            {"field": "delegate"},
        )
    assert delegate is not None  # narrowed by _is_natural_person
    expires_at = timezone.now() + timedelta(days=days)
    row = _live(principal=principal, delegate=delegate)
    before = _snapshot(row) if row is not None else None
    if row is None:
        try:
            with transaction.atomic():  # a grant racing this one may have made the row
                row = Delegation.objects.create(
                    principal=principal, delegate=delegate, expires_at=expires_at
                )
        except IntegrityError:
            row = _live(principal=principal, delegate=delegate)
            assert row is not None  # the unique row the racing grant committed
            before = _snapshot(row)
    if before is not None:
        row.expires_at = expires_at
        row.save(update_fields=["expires_at", "updated_at"])
    audit_record(
        actor=principal,
        action="delegation.grant" if before is None else "delegation.renew",
        target_type="delegation",
        target_id=str(row.pk),
        before=before,
        after=_snapshot(row),
    )
    return row


@transaction.atomic
def delegation_revoke(*, principal: User, delegation_id: str) -> Delegation:
    """The legal person ends a delegation now; revoking one already revoked changes nothing."""
    key = _uuid(delegation_id)
    row = (
        Delegation.objects.select_for_update(of=("self",))
        .select_related("principal", "delegate")
        .filter(pk=key, principal=principal)
        .first()
        if key is not None
        else None
    )
    if row is None:
        raise NotFoundError("delegation.not_found", "授权不存在")
    if row.revoked_at is not None:
        return row
    before = _snapshot(row)
    row.revoked_at = timezone.now()
    row.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        actor=principal,
        action="delegation.revoke",
        target_type="delegation",
        target_id=str(row.pk),
        before=before,
        after=_snapshot(row),
    )
    return row


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Acting:
    """Who is signed in (`user`) and whose licences they are acting on (`holder`): the same
    account, or a legal person under `delegation`."""

    user: User
    holder: User
    delegation: Delegation | None = None

    def record_detail(self) -> dict[str, str]:
        """What an access record says about the actor: both identities under a delegation."""
        if self.delegation is None:
            return {"by": "holder"}
        return {
            "by": "delegate",
            "on_behalf_of": self.holder.username,
            "on_behalf_of_name": self.holder.display_name,
            "delegation": str(self.delegation.pk),
        }


def delegation_use(*, delegate: User, delegation_id: str) -> Acting:
    """The acting context of `delegate` under `delegation_id`; a delegation that is not theirs,
    expired or revoked is refused (403 `delegation.inactive`) and nothing is done under it."""
    key = _uuid(delegation_id)
    row = (
        Delegation.objects.select_related("principal", "delegate")
        .filter(pk=key, delegate=delegate)
        .first()
        if key
        else None
    )
    if row is None or not row.active or not row.principal.is_active:
        raise ForbiddenError(
            "delegation.inactive",
            "该授权已过期、已被撤销或不存在，不能再代表该法人办理",
            {"delegation": str(delegation_id)[:64]},
        )
    return Acting(user=delegate, holder=row.principal, delegation=row)
