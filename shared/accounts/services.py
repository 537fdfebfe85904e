"""Writes for agencies, staff and tokens (HackSoft-style services)."""

import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import Agency, ApiToken, User
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.holder_codes import validate_uscc

TOKEN_PREFIX = "elc_"


def _require_library_admin(actor: User) -> None:
    if not actor.is_library_admin:
        raise ForbiddenError("permission.library_admin_required", "仅库管理员可管理单位")


@transaction.atomic
def agency_create(
    *,
    actor: User | None,
    code: str,
    name: str,
    kind: str = Agency.Kind.DEPARTMENT,
    level: str = Agency.Level.CITY,
    area_code: str,
    is_issuer: bool = False,
    is_consumer: bool = False,
) -> Agency:
    """Register an agency at this library. `actor=None` is a system action (seeding)."""
    if actor is not None:
        _require_library_admin(actor)
    normalised = validate_uscc(code).code
    if Agency.objects.filter(code=normalised).exists():
        raise ConflictError("agency.exists", "该统一社会信用代码的单位已存在", {"code": normalised})
    try:
        with transaction.atomic():
            return Agency.objects.create(
                code=normalised,
                name=name,
                kind=kind,
                level=level,
                area_code=area_code,
                is_issuer=is_issuer,
                is_consumer=is_consumer,
            )
    except IntegrityError as exc:
        raise ConflictError("agency.exists", "该统一社会信用代码的单位已存在") from exc


@transaction.atomic
def agency_update(*, actor: User, agency: Agency, **fields: object) -> Agency:
    _require_library_admin(actor)
    allowed = {"name", "kind", "level", "area_code", "is_issuer", "is_consumer", "active"}
    for key, value in fields.items():
        if key in allowed:
            setattr(agency, key, value)
    agency.save()
    return agency


def _can_manage_staff(actor: User, agency: Agency) -> bool:
    return actor.is_library_admin or (actor.is_agency_admin and actor.agency_id == agency.pk)


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    agency: Agency | None,
    username: str,
    password: str | None = None,
    role: str = User.Role.STAFF,
    display_name: str = "",
) -> User:
    """Create a staff user. Agency admins manage their own staff (art. 32); the library admin
    manages everyone. Only the library admin may create another library admin."""
    if actor is not None:
        if role == User.Role.LIBRARY_ADMIN and not actor.is_library_admin:
            raise ForbiddenError("permission.denied", "无权创建库管理员")
        if agency is None and not actor.is_library_admin:
            raise ForbiddenError("permission.denied", "无权创建不属于单位的用户")
        if agency is not None and not _can_manage_staff(actor, agency):
            raise ForbiddenError("permission.denied", "只能管理本单位的人员")
    if role != User.Role.LIBRARY_ADMIN and agency is None:
        raise ConflictError("user.agency_required", "经办人员和单位管理员必须属于某个单位")
    if User.objects.filter(username=username).exists():
        raise ConflictError("user.exists", "用户名已存在", {"username": username})
    user = User(username=username, agency=agency, role=role, display_name=display_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def token_issue(
    *, actor: User | None, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue a bearer token for `user`; returns the row and the secret (shown only once)."""
    if actor is not None and actor.pk != user.pk:
        if user.agency is None or not _can_manage_staff(actor, user.agency):
            raise ForbiddenError("permission.denied", "无权为该用户签发令牌")
    # A token born expired is a mistake; it also kept year-0046 datetimes, which render with a
    # local-mean-time offset (+08:05:43) that is not RFC 3339.
    if expires_at is not None and expires_at <= timezone.now():
        raise PermanentError(
            "token.expires_at", "令牌到期时间必须晚于当前时间", {"field": "expires_at"}
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:12],
        digest=ApiToken.digest_of(secret),
        expires_at=expires_at,
    )
    return token, secret


@transaction.atomic
def token_revoke(*, actor: User, token_id: int) -> ApiToken:
    token = ApiToken.objects.select_for_update().filter(pk=token_id).first()
    if token is None or (
        token.user_id != actor.pk
        and not (token.user.agency and _can_manage_staff(actor, token.user.agency))
    ):
        raise NotFoundError("token.not_found", "令牌不存在")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
