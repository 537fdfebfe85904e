"""Holder enrolment (art. 29; issue #14 item 1): an account made from a verified identity of
the provincial unified login (`holder_enrol_oidc`) or, as the fallback, from a name and code the
population / legal-entity registry confirms (`holder_enrol_registry`); then the second factor:
a TOTP device confirmed with a first code (`holder_totp_begin` / `holder_totp_confirm`), ten
single-use recovery codes, and a reset by the library administrator (`holder_otp_reset`).

An account without a confirmed device can sign in but is never *verified* (django_otp): the
portal sends it to the enrolment page and shows it nothing else.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access.otp import recovery_code_digest, recovery_code_new
from shared.access.registry import REGISTER_NAMES, registry_adapter, same_name
from shared.accounts.models import User
from shared.accounts.services import user_snapshot
from shared.audit.services import audit_record
from shared.core.errors import ConflictError, ForbiddenError, PermanentError
from shared.core.holder_codes import holder_code_digests
from shared.domain.errors import DomainError
from shared.domain.holder_codes import validate_holder_code
from shared.identity.models import ExternalIdentity
from shared.identity.oidc import Identity

PATH_OIDC = "oidc"
PATH_REGISTRY = "registry"
TOTP_NAME = "持证人动态口令"
RECOVERY_NAME = "恢复码"
PASSWORD_MIN = 10


def _code_checked(*, code: str, code_type: str) -> str:
    """The code normalised, or a refusal: enrolment takes no legacy or malformed code."""
    try:
        return validate_holder_code(code, code_type, today=timezone.localdate()).code
    except DomainError as exc:
        raise PermanentError(
            "enrol.code_invalid", f"证件号码无效：{exc.message}", {"code_type": code_type}
        ) from exc


def _holder_with_code(*, code: str, code_type: str) -> User | None:
    return User.objects.filter(
        role=User.Role.HOLDER,
        holder_code_type=code_type,
        holder_code_digest__in=holder_code_digests(code),  # either version during a rotation
    ).first()


def _account_create(
    *, username: str, password: str | None, name: str, code: str, code_type: str, path: str
) -> User:
    user = User(username=username, role=User.Role.HOLDER, display_name=name)
    if password is None:
        user.set_unusable_password()  # signs in through the provider only
    else:
        user.set_password(password)
    user.holder_code_type = code_type
    user.holder_code = code
    user.save()
    audit_record(
        actor=None,
        action="account.enrol",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=user_snapshot(user),
        detail={"path": path},
    )
    return user


def _oidc_username(identity: Identity) -> str:
    digest = hashlib.sha256(f"{identity.issuer}\n{identity.subject}".encode()).hexdigest()
    return f"oidc_{digest[:16]}"


def holder_enrol_oidc(*, identity: Identity) -> tuple[User, bool]:
    """The holder account for a verified identity: found by (issuer, subject) when it signed
    in before; else linked to the holder account of the same code (one holder, one account)
    or made from the token's name and code. Returns (account, made now)."""
    for _ in range(2):  # a second pass finds what a concurrent first sign-in made
        try:
            return _enrol_oidc_once(identity)
        except IntegrityError:
            continue
    raise ConflictError("enrol.busy", "账户正在创建，请稍后重新登录")


@transaction.atomic
def _enrol_oidc_once(identity: Identity) -> tuple[User, bool]:
    link = (
        ExternalIdentity.objects.select_related("user")
        .filter(issuer=identity.issuer, subject=identity.subject)
        .first()
    )
    if link is not None:
        if not link.user.is_active or not link.user.is_holder:
            raise ForbiddenError("enrol.account_disabled", "该账户已停用，请联系库管理员")
        ExternalIdentity.objects.filter(pk=link.pk).update(last_login_at=timezone.now())
        return link.user, False
    if not identity.name or not identity.holder_code:
        raise PermanentError(
            "oidc.claims_missing", "统一身份认证未提供姓名或证件号码，不能注册", {}
        )
    code = _code_checked(code=identity.holder_code, code_type=identity.holder_code_type)
    user = _holder_with_code(code=code, code_type=identity.holder_code_type)
    made = user is None
    if user is None:
        user = _account_create(
            username=_oidc_username(identity),
            password=None,
            name=identity.name,
            code=code,
            code_type=identity.holder_code_type,
            path=PATH_OIDC,
        )
    else:
        audit_record(
            actor=None,
            action="account.link",
            target_type="user",
            target_id=str(user.pk),
            before=None,
            after=None,
            detail={"path": PATH_OIDC, "issuer": identity.issuer},
        )
    with transaction.atomic():  # a savepoint: a concurrent link raises IntegrityError here
        ExternalIdentity.objects.create(
            user=user,
            issuer=identity.issuer,
            subject=identity.subject,
            last_login_at=timezone.now(),
        )
    return user, made


def holder_enrol_registry(
    *, username: str, password: str, name: str, code: str, code_type: str
) -> User:
    """A holder account for someone the registry knows by this name and code. Refused, with
    nothing made, on an unknown code, a different name, a code type no registry covers, a code
    that already has an account; a registry that does not answer is retryable (503)."""
    username, name = username.strip(), name.strip()
    if not username or len(username) > 150 or not name or len(name) > 100:
        raise PermanentError("enrol.fields", "请填写用户名（不超过 150 字）和姓名（不超过 100 字）")
    if len(password) < PASSWORD_MIN:
        raise PermanentError("holder.password", f"密码至少 {PASSWORD_MIN} 位")
    code = _code_checked(code=code, code_type=code_type)
    if User.objects.filter(username=username).exists():
        raise ConflictError("user.exists", "用户名已存在", {"username": username})
    if _holder_with_code(code=code, code_type=code_type) is not None:
        raise _already_enrolled()
    # The registry is asked before any transaction opens: no row is held during the call.
    entry = registry_adapter().lookup(code=code, code_type=code_type)
    if entry is None:
        raise PermanentError(
            "enrol.registry_unsupported",
            "该证件类型无法自助核验，请通过统一身份认证登录或到窗口办理",
            {"code_type": code_type},
        )
    register = REGISTER_NAMES[code_type]
    if not entry.found:
        raise PermanentError(
            "enrol.registry_not_found", f"{register}中查无此证件号码，未创建账户", {}
        )
    if not same_name(entry.name, name):
        raise PermanentError(
            "enrol.registry_mismatch", f"姓名（名称）与{register}登记的不一致，未创建账户", {}
        )
    try:
        with transaction.atomic():
            if _holder_with_code(code=code, code_type=code_type) is not None:
                raise _already_enrolled()
            return _account_create(
                username=username,
                password=password,
                name=name,
                code=code,
                code_type=code_type,
                path=PATH_REGISTRY,
            )
    except IntegrityError as exc:  # the same username taken meanwhile
        raise ConflictError("user.exists", "用户名已存在", {"username": username}) from exc


def _already_enrolled() -> ConflictError:
    return ConflictError(
        "enrol.holder_exists",
        "该证件号码已注册持证人账户，请直接登录；如动态口令遗失，请联系库管理员重置",
    )


def holder_has_device(*, user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


@transaction.atomic
def holder_totp_begin(*, user: User) -> TOTPDevice:
    """The holder's unconfirmed TOTP device (made on first call, the same one after): its
    otpauth:// URI goes into the QR code. Refused once a device is confirmed."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one device, however many tabs
    if holder_has_device(user=user):
        raise ConflictError("otp.enrolled", "已绑定动态口令；如需更换，请联系库管理员重置")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


@transaction.atomic
def holder_totp_confirm(*, user: User, token: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the device with a code it shows now; returns it and the recovery codes (the
    only time they are shown). A wrong code changes nothing."""
    User.objects.select_for_update().filter(pk=user.pk).first()
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None or holder_has_device(user=user):
        raise ConflictError("otp.no_pending", "没有待确认的动态口令，请重新开始绑定")
    token = token.strip()
    if not (token.isdigit() and device.verify_token(token)):
        raise PermanentError("otp.wrong_code", "动态口令不正确，请输入验证器当前显示的 6 位数字")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_replace(user)
    audit_record(
        actor=user,
        action="account.otp_enrol",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=None,
        detail={"device": device.name, "recovery_codes": len(codes)},
    )
    return device, codes


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [recovery_code_new() for _ in range(settings.HOLDER_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(
        [StaticToken(device=device, token=recovery_code_digest(c)) for c in codes]
    )
    return codes


@transaction.atomic
def holder_recovery_renew(*, user: User, token: str) -> list[str]:
    """New recovery codes for a holder who proves the device with a current TOTP code; the
    old ones stop working. Returns the codes (shown once)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    token = token.strip()
    if device is None:
        raise ConflictError("otp.no_device", "尚未绑定动态口令")
    if not (token.isdigit() and device.verify_token(token)):
        raise PermanentError("otp.wrong_code", "动态口令不正确，请输入验证器当前显示的 6 位数字")
    codes = _recovery_codes_replace(user)
    audit_record(
        actor=user,
        action="account.recovery_renew",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=None,
        detail={"recovery_codes": len(codes)},
    )
    return codes


def recovery_codes_left(*, user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def holder_otp_reset(*, actor: User, holder: User, reason: str) -> int:
    """Remove the holder's TOTP device and recovery codes (a lost phone): the holder's next
    sign-in leads to a new enrolment. Only the library administrator, only with a reason;
    audited with both. Returns how many devices were removed."""
    if not actor.is_library_admin:
        raise ForbiddenError("permission.denied", "只有库管理员可以重置持证人的动态口令")
    if not holder.is_holder:
        raise PermanentError("otp.holder_only", "该账户不是持证人账户")
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise PermanentError("otp.reason_required", "请填写重置原因（不超过 200 字）")
    removed = TOTPDevice.objects.filter(user=holder).count()
    removed += StaticDevice.objects.filter(user=holder).count()
    TOTPDevice.objects.filter(user=holder).delete()
    StaticDevice.objects.filter(user=holder).delete()  # and its tokens
    audit_record(
        actor=actor,
        action="account.otp_reset",
        target_type="user",
        target_id=str(holder.pk),
        before=None,
        after=None,
        detail={"reason": reason, "username": holder.username, "removed": removed},
    )
    return removed
