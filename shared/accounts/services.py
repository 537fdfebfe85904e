"""Writes for agencies, staff and tokens (HackSoft-style services)."""

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from shared.accounts.models import Agency, ApiToken, User
from shared.audit.services import audit_record
from shared.audit.snapshots import model_snapshot
from shared.core.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError
from shared.domain.holder_codes import validate_uscc

TOKEN_PREFIX = "elc_"
# Roles of the library itself, not of an agency: only the library admin gives them.
LIBRARY_ROLES = frozenset({User.Role.LIBRARY_ADMIN, User.Role.SUPERVISOR})


def agency_snapshot(agency: Agency) -> dict[str, Any]:
    return model_snapshot(agency, exclude=("created_at", "updated_at"))


def user_snapshot(user: User) -> dict[str, Any]:
    """A user without the password hash, the sign-in times and the holder code."""
    snap = model_snapshot(user, exclude=("last_login", "date_joined"))
    return snap | {"agency_code": user.agency.code if user.agency else ""}


def token_snapshot(token: ApiToken) -> dict[str, Any]:
    """A token without its digest (the prefix is what the owner is shown to tell them apart)."""
    snap = model_snapshot(token, exclude=("last_used_at",))
    return snap | {"username": token.user.username}


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
            agency = Agency.objects.create(
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
    audit_record(
        actor=actor,
        action="agency.create",
        target_type="agency",
        target_id=agency.code,
        before=None,
        after=agency_snapshot(agency),
    )
    return agency


@transaction.atomic
def agency_update(*, actor: User, agency: Agency, **fields: object) -> Agency:
    _require_library_admin(actor)
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    before = agency_snapshot(agency)
    allowed = {"name", "kind", "level", "area_code", "is_issuer", "is_consumer", "active"}
    for key, value in fields.items():
        if key in allowed:
            setattr(agency, key, value)
    agency.save()
    audit_record(
        actor=actor,
        action="agency.update",
        target_type="agency",
        target_id=agency.code,
        before=before,
        after=agency_snapshot(agency),
    )
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
        if role in LIBRARY_ROLES and not actor.is_library_admin:
            raise ForbiddenError("permission.denied", "无权创建库管理员或监管人员")
        if agency is None and not actor.is_library_admin:
            raise ForbiddenError("permission.denied", "无权创建不属于单位的用户")
        if agency is not None and not _can_manage_staff(actor, agency):
            raise ForbiddenError("permission.denied", "只能管理本单位的人员")
    if role not in LIBRARY_ROLES and agency is None:
        raise ConflictError("user.agency_required", "经办人员和单位管理员必须属于某个单位")
    if User.objects.filter(username=username).exists():
        raise ConflictError("user.exists", "用户名已存在", {"username": username})
    user = User(username=username, agency=agency, role=role, display_name=display_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    audit_record(
        actor=actor,
        action="user.create",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=user_snapshot(user),
    )
    return user


# What an update may change, and what only the library administrator may change.
USER_FIELDS = frozenset(
    {"display_name", "email", "first_name", "last_name", "is_active", "role", "agency"}
    | {"is_staff", "is_superuser"}
)
LIBRARY_ADMIN_ONLY = frozenset({"agency", "is_staff", "is_superuser"})


def _check_user_change(actor: User | None, user: User, fields: dict[str, Any]) -> None:
    """Agency admins manage their own agency's staff (not library roles, not admin access);
    the library admin manages everyone; holders' accounts are the holder portal's."""
    unknown = set(fields) - USER_FIELDS
    if unknown:
        raise PermanentError(
            "user.field_not_editable", "这些字段不能修改", {"fields": sorted(unknown)}
        )
    role = fields.get("role", user.role)
    if User.Role.HOLDER in (role, user.role) and role != user.role:
        raise ConflictError("user.role_holder", "持证人账户与工作人员账户不能互相转换")
    if actor is None or actor.is_library_admin:
        return
    if (
        user.agency is None
        or not _can_manage_staff(actor, user.agency)
        or LIBRARY_ADMIN_ONLY & set(fields)
        or role in LIBRARY_ROLES
        or user.role in LIBRARY_ROLES
    ):
        raise ForbiddenError("permission.denied", "只能管理本单位的人员")


@transaction.atomic
def user_update(*, actor: User | None, user: User, **fields: Any) -> User:
    """Change a user's profile, role, agency or access flags; one audit row ("user.update",
    with the changed fields in its detail)."""
    user = User.objects.select_for_update(of=("self",)).select_related("agency").get(pk=user.pk)
    _check_user_change(actor, user, fields)
    before = user_snapshot(user)
    for key, value in fields.items():
        setattr(user, key, value)
    if user.role not in (*LIBRARY_ROLES, User.Role.HOLDER) and user.agency_id is None:
        raise ConflictError("user.agency_required", "经办人员和单位管理员必须属于某个单位")
    user.save()
    audit_record(
        actor=actor,
        action="user.update",
        target_type="user",
        target_id=str(user.pk),
        before=before,
        after=user_snapshot(user),
    )
    return user


@transaction.atomic
def user_password_set(*, actor: User | None, user: User, password: str | None) -> User:
    """Set (None: disable) a user's password on an administrator's behalf. The audit row says
    that it changed, never what to."""
    if actor is not None and actor.pk != user.pk:
        _check_user_change(actor, user, {})
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="user.password",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=None,
        detail={"username": user.username, "usable": bool(password)},
    )
    return user


def token_default_expiry() -> datetime:
    """When a token issued now without `expires_at` stops working (API_TOKEN_DEFAULT_DAYS)."""
    return timezone.now() + timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)


def require_token_staff(user: User) -> None:
    """Bearer tokens are for agency staff and library administrators, never holders: a holder
    signs in with password and one-time code (art. 29), and a token would outlive the session
    and skip the code."""
    if user.is_holder:
        raise ForbiddenError(
            "token.staff_only", "API 令牌仅限单位工作人员和库管理员使用，持证人账户不能签发或使用"
        )


@transaction.atomic
def token_issue(
    *, actor: User | None, user: User, name: str, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Issue a bearer token for `user`; returns the row and the secret (shown only once).

    Every token expires: without `expires_at` after API_TOKEN_DEFAULT_DAYS, and never later
    than API_TOKEN_MAX_DAYS from now."""
    if actor is not None:
        require_token_staff(actor)
    require_token_staff(user)
    if actor is not None and actor.pk != user.pk:
        if user.agency is None or not _can_manage_staff(actor, user.agency):
            raise ForbiddenError("permission.denied", "无权为该用户签发令牌")
    now = timezone.now()
    # A token born expired is a mistake; it also kept year-0046 datetimes, which render with a
    # local-mean-time offset (+08:05:43) that is not RFC 3339.
    if expires_at is not None and expires_at <= now:
        raise PermanentError(
            "token.expires_at", "令牌到期时间必须晚于当前时间", {"field": "expires_at"}
        )
    max_days = settings.API_TOKEN_MAX_DAYS
    if expires_at is not None and expires_at > now + timedelta(days=max_days):
        raise PermanentError(
            "token.expires_at",
            f"令牌有效期最长 {max_days} 天，请缩短到期时间",
            {"field": "expires_at", "max_days": max_days},
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:12],
        digest=ApiToken.digest_of(secret),
        expires_at=expires_at or token_default_expiry(),
    )
    audit_record(
        actor=actor,
        action="token.issue",
        target_type="token",
        target_id=str(token.pk),
        before=None,
        after=token_snapshot(token),
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
        before = token_snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="token.revoke",
            target_type="token",
            target_id=str(token.pk),
            before=before,
            after=token_snapshot(token),
        )
    return token
