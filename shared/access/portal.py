"""Holders (art. 29): accounts with password + TOTP, their licences across the library, the
purpose-bound copies they share, and every access to their licences.

At the hub the licence table also holds every city's aggregated licences, so a holder signed
in there sees their licences across every city.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from django.core import signing
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access.models import AccessRecord, HolderShare
from shared.access.ratelimit import retry_after
from shared.access.services import RateLimitedError, access_record, anonymous_refusal
from shared.access.text import purpose_check
from shared.accounts.models import User
from shared.accounts.services import user_snapshot
from shared.audit.services import audit_record
from shared.core.errors import ConflictError, NotFoundError, PermanentError
from shared.core.holder_codes import holder_code_normalise, holder_digests_of
from shared.domain.status import UNRELEASED
from shared.licenses import lookups
from shared.licenses.models import License

SHARE_DAYS_MAX = 30
SHARE_SALT = "shared.access.holder-share"


@transaction.atomic
def holder_create(
    *,
    username: str,
    password: str,
    display_name: str,
    holder_code: str,
    holder_code_type: str,
    totp_key: str | None = None,
) -> tuple[User, TOTPDevice]:
    """A holder account with a confirmed TOTP device (the one-time code of art. 29)."""
    if User.objects.filter(username=username).exists():
        raise ConflictError("user.exists", "用户名已存在", {"username": username})
    if len(password) < 10:
        raise PermanentError("holder.password", "密码至少 10 位")
    user = User(username=username, role=User.Role.HOLDER, display_name=display_name)
    user.set_password(password)
    user.holder_code_type = holder_code_type
    user.holder_code = holder_code_normalise(holder_code, holder_code_type)
    user.save()
    device = TOTPDevice.objects.create(
        user=user, name="默认动态口令", confirmed=True, **({"key": totp_key} if totp_key else {})
    )
    audit_record(
        actor=None,
        action="user.create",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=user_snapshot(user),
        detail={"holder": True},
    )
    return user, device


def holder_licenses(*, holder: User) -> QuerySet[License]:
    if not holder.is_holder or not holder.holder_code_digest:
        return License.objects.none()
    return (
        License.objects.filter(
            **lookups.holder_terms(holder_digests_of(holder)),
            holder_code_type=holder.holder_code_type,
        )
        .exclude(status__in=UNRELEASED)
        .select_related("license_type", "issuer")
        .order_by("-issue_date", "-id")
    )


def holder_accesses(*, holder: User) -> QuerySet[AccessRecord]:
    from shared.access.selectors import access_log_for_holder

    return access_log_for_holder(user=holder).order_by("-id")


def holder_license(*, holder: User, identifier: str) -> License:
    lic = holder_licenses(holder=holder).filter(identifier=identifier).first()
    if lic is None:
        raise NotFoundError("license.not_found", "证照不存在")
    return lic


@transaction.atomic
def holder_share_create(
    *,
    holder: User,
    identifier: str,
    use_cause: str,
    recipient: str = "",
    days: int = 7,
    actor: User | None = None,
    actor_detail: dict[str, str] | None = None,
) -> HolderShare:
    """A purpose-bound copy (加注件) of one licence: a link that shows the licence with the
    purpose and expiry written across it, until it expires or the holder revokes it; each view
    is an access record. `actor` is who made it when not the holder (a legal person's staff
    under a delegation, named in `actor_detail`)."""
    lic = holder_license(holder=holder, identifier=identifier)
    use_cause = use_cause.strip()
    if not use_cause or len(use_cause) > 200:
        raise PermanentError("access.purpose_required", "加注件必须填写用途（不超过 200 字）")
    purpose_check(use_cause)
    days = max(1, min(days, SHARE_DAYS_MAX))
    share = HolderShare.objects.create(
        holder=holder,
        license=lic,
        use_cause=use_cause,
        recipient=recipient.strip()[:200],
        token=secrets.token_urlsafe(24),
        expires_at=timezone.now() + timedelta(days=days),
    )
    access_record(
        user=actor or holder,
        operation=AccessRecord.Operation.COPY,
        matter_code="",
        use_cause=use_cause,
        licenses=[lic],
        outcome=AccessRecord.Outcome.ALLOWED,
        detail={
            "share": str(share.pk),
            "recipient": share.recipient,
            **(actor_detail or {"by": "holder"}),
        },
    )
    return share


def holder_share_link_token(share: HolderShare) -> str:
    """What the link carries: the share's random token signed with the site's key (salted for
    this use), so a token that was not made here is refused before any lookup."""
    return signing.Signer(salt=SHARE_SALT).sign(share.token)


def holder_shares(*, holder: User) -> QuerySet[HolderShare]:
    return HolderShare.objects.filter(holder=holder).select_related("license__license_type")


@transaction.atomic
def holder_share_revoke(
    *, holder: User, share_id: str, actor: User | None = None, actor_detail: dict | None = None
) -> HolderShare:
    """The holder ends a link now (the counter it was given to can no longer open it).
    Revoking a link already revoked changes nothing; another holder's link is 404."""
    try:
        key = uuid.UUID(str(share_id))
    except ValueError:
        key = None
    share = (
        HolderShare.objects.select_for_update().filter(pk=key, holder=holder).first()
        if key
        else None
    )
    if share is None:
        raise NotFoundError("share.not_found", "加注件不存在")
    if share.revoked_at is not None:
        return share
    share.revoked_at = timezone.now()
    share.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor or holder,
        action="holder_share.revoke",
        target_type="holder_share",
        target_id=str(share.pk),
        before={"revoked_at": None},
        after={"revoked_at": share.revoked_at.isoformat()},
        detail={"identifier": share.license.identifier, **(actor_detail or {"by": "holder"})},
    )
    return share


def holder_share_open(*, token: str, client: str = "") -> HolderShare:
    """The shared copy behind a link (`holder_share_link_token`), recorded as a use. A link
    whose signature does not check is one this site never made. A revoked or expired link is a
    recorded refusal (an access record on the holder's licence). A link that does not exist
    names no licence: it is anonymous noise, counted per minute (`anonymous_refusal`, kind
    `holder_link:share.not_found`) and never written with the caller's token; over the
    address's budget → 429 `rate_limited`."""
    try:
        raw = signing.Signer(salt=SHARE_SALT).unsign(token)
    except signing.BadSignature:
        raw = None
    share = (
        HolderShare.objects.select_related("license__license_type", "license__issuer", "holder")
        .filter(token=raw)
        .first()
        if raw
        else None
    )
    if share is None:
        if anonymous_refusal(kind="holder_link:share.not_found", client=client):
            raise RateLimitedError(
                "rate_limited", "请求过于频繁，请稍后再试", {"retry_after_seconds": retry_after()}
            )
        raise NotFoundError("share.not_found", "加注件不存在或已过期")
    if share.revoked_at is not None or share.expires_at <= timezone.now():
        error = NotFoundError("share.not_found", "加注件不存在或已过期")
        access_record(  # a revoked or expired link is a refusal on the holder's licence
            user=None,
            operation=AccessRecord.Operation.COPY,
            matter_code="",
            use_cause=share.use_cause,
            licenses=[share.license],
            outcome=AccessRecord.Outcome.REFUSED,
            reason_code=error.code,
            detail={"share": str(share.pk), "by": "link"},
        )
        raise error
    access_record(
        user=None,
        operation=AccessRecord.Operation.COPY,
        matter_code="",
        use_cause=share.use_cause,
        licenses=[share.license],
        outcome=AccessRecord.Outcome.ALLOWED,
        detail={"share": str(share.pk), "recipient": share.recipient, "by": "link"},
    )
    return share
