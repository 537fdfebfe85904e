"""Writes for webhook subscriptions: subscribe and unsubscribe.

Subscribing is a purpose-bound use (arts. 21–22, 27): it needs an active consumer, a matter, a
purpose, a grant for the licence's type and that matter, and an earlier allowed use of this
licence by the agency under that matter; every outcome is an access record (operation
`subscribe`), refusals included, written before the answer leaves.
"""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.access.models import AccessRecord
from shared.access.services import (
    access_record,
    caller_check,
    rate_check,
    refusal_record,
    use_authorize,
)
from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.errors import DomainError
from shared.domain.identifiers import parse_identifier
from shared.licenses import lookups
from shared.licenses.models import License, LicenseVersion
from shared.webhooks.models import Signing, Subscription, WebhookEvent

Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome

# Uses that count as "has used this licence" (a grant alone does not).
USES = (Operation.QUERY, Operation.VERIFY, Operation.COMPARE, Operation.COPY, Operation.DOWNLOAD)


def _licence(identifier: str) -> License:
    try:
        parse_identifier(identifier)
    except DomainError as exc:
        raise NotFoundError("license.not_found", "证照不存在") from exc
    lic = (
        License.objects.select_related("license_type", "issuer")
        .filter(**lookups.licence_terms_by_version(identifier))
        .first()
    )
    if lic is None:
        raise NotFoundError("license.not_found", "证照不存在")
    return lic


def _check_target(target_url: str) -> str:
    url = (target_url or "").strip()
    parts = urlsplit(url)
    allowed = {"https"} if settings.WEBHOOK_REQUIRE_HTTPS else {"http", "https"}
    if len(url) > 500 or parts.scheme not in allowed or not parts.hostname or parts.username:
        raise PermanentError(
            "webhook.target_url",
            "接收地址无效：必须是 https 地址"
            if settings.WEBHOOK_REQUIRE_HTTPS
            else "接收地址无效：必须是 http 或 https 地址",
            {"field": "target_url"},
        )
    return url


def _has_used(*, user: User, lic: License, matter_code: str) -> bool:
    identifiers = LicenseVersion.objects.filter(license=lic).values_list("identifier", flat=True)
    return AccessRecord.objects.filter(
        agency_code=user.agency.code if user.agency else "",
        matter_code=matter_code,
        identifier__in=list(identifiers),
        operation__in=USES,
        outcome=Outcome.ALLOWED,
    ).exists()


def subscription_snapshot(sub: Subscription) -> dict[str, Any]:
    """What the audit keeps of a subscription (never its secret)."""
    return {
        "id": sub.pk,
        "agency_code": sub.agency.code,
        "identifier": sub.identifier,
        "matter_code": sub.matter_code,
        "target_url": sub.target_url,
        "signing": sub.signing,
        "deleted": sub.deleted_at is not None,
    }


def _refuse_unless_used(*, actor: User, lic: License, matter_code: str, use_cause: str) -> None:
    """A grant alone is not enough: the agency must have used this licence under the matter.
    The refusal is recorded before it is raised."""
    if _has_used(user=actor, lic=lic, matter_code=matter_code):
        return
    error = ForbiddenError("webhook.not_used", "本单位未在该事项下使用过此证照，不能订阅其状态变更")
    refusal_record(
        user=actor,
        operation=Operation.SUBSCRIBE,
        error=error,
        matter_code=matter_code,
        use_cause=use_cause,
        licenses=[lic],
    )
    raise error


def _subscription_insert(
    *, actor: User, lic: License, matter_code: str, url: str, signing_choice: str
) -> Subscription:
    """The new row; 409 `webhook.exists` when the agency already has this subscription."""
    agency = actor.agency
    assert agency is not None  # use_authorize refused anyone without an agency
    exists = ConflictError("webhook.exists", "本单位已有该证照、事项和接收地址的订阅")
    live = Subscription.objects.filter(
        agency=agency, license=lic, matter_code=matter_code, target_url=url, deleted_at=None
    )
    if live.exists():
        raise exists
    try:
        with transaction.atomic():  # two identical requests at once: the constraint decides
            return Subscription.objects.create(
                agency=agency,
                license=lic,
                identifier=lic.identifier,
                matter_code=matter_code,
                target_url=url,
                signing=signing_choice,
                secret="" if signing_choice == Signing.SM2_SM3 else secrets.token_hex(32),
                created_by=actor,
            )
    except IntegrityError:
        raise exists from None


@transaction.atomic
def subscription_create(
    *,
    actor: User,
    identifier: str,
    matter_code: str,
    use_cause: str,
    target_url: str,
    signing_choice: str = Signing.HMAC_SHA256,
) -> Subscription:
    """Subscribe the actor's agency to the status changes of the licence `identifier`.

    Refused (403, recorded) without a grant for the licence's type and `matter_code`
    (`access.no_grant` and the other `use_authorize` codes) or when the agency never used
    this licence under that matter (`webhook.not_used`); 400 `webhook.target_url`,
    `webhook.signing`; 404 `license.not_found`; 409 `webhook.exists`.
    """
    matter_code = (matter_code or "").strip()
    if signing_choice not in Signing.values:
        raise PermanentError("webhook.signing", "不支持的签名方式", {"field": "signing"})
    rate_check(
        user=actor, operation=Operation.SUBSCRIBE, matter_code=matter_code, use_cause=use_cause
    )
    caller_check(
        user=actor,
        matter_code=matter_code,
        use_cause=use_cause,
        operation=Operation.SUBSCRIBE,
        holder_code="",
        holder_code_type="",
    )
    lic = _licence(identifier)
    use_authorize(
        user=actor,
        license_type=lic.license_type,
        matter_code=matter_code,
        use_cause=use_cause,
        operation=Operation.SUBSCRIBE,
    )
    _refuse_unless_used(actor=actor, lic=lic, matter_code=matter_code, use_cause=use_cause)
    url = _check_target(target_url)
    sub = _subscription_insert(
        actor=actor, lic=lic, matter_code=matter_code, url=url, signing_choice=signing_choice
    )
    access_record(
        user=actor,
        operation=Operation.SUBSCRIBE,
        matter_code=matter_code,
        use_cause=use_cause,
        licenses=[lic],
        outcome=Outcome.ALLOWED,
        detail={"subscription": sub.pk, "target_host": urlsplit(url).hostname or ""},
    )
    audit_record(
        actor=actor,
        action="webhook.subscribe",
        target_type="webhook_subscription",
        target_id=str(sub.pk),
        before=None,
        after=subscription_snapshot(sub),
    )
    return sub


@transaction.atomic
def subscription_delete(*, actor: User, subscription_id: int) -> Subscription:
    """End a subscription of the actor's agency (a library administrator: any); its pending
    events are cancelled. Deleting twice is the same as once."""
    subs = Subscription.objects.select_for_update(of=("self",)).select_related("agency", "license")
    if not actor.is_library_admin:
        subs = subs.filter(agency_id=actor.agency_id) if actor.agency_id else subs.none()
    sub = subs.filter(pk=subscription_id).first()
    if sub is None:
        raise NotFoundError("webhook.not_found", "订阅不存在")
    if sub.deleted_at is not None:
        return sub
    before = subscription_snapshot(sub)
    sub.deleted_at, sub.deleted_by = timezone.now(), actor
    sub.save(update_fields=["deleted_at", "deleted_by"])
    WebhookEvent.objects.filter(subscription=sub, state=WebhookEvent.State.PENDING).update(
        state=WebhookEvent.State.CANCELLED, next_attempt_at=None
    )
    access_record(
        user=actor,
        operation=Operation.SUBSCRIBE,
        matter_code=sub.matter_code,
        use_cause="取消状态变更订阅",
        licenses=[sub.license] if sub.license else [sub.identifier],
        outcome=Outcome.ALLOWED,
        detail={"subscription": sub.pk, "deleted": True},
    )
    audit_record(
        actor=actor,
        action="webhook.unsubscribe",
        target_type="webhook_subscription",
        target_id=str(sub.pk),
        before=before,
        after=subscription_snapshot(sub),
    )
    return sub
