"""One-time-code devices of staff (art. 29 applies to the console as to the holder portal):
a staff member signs in to the console with password and a TOTP code from a device enrolled
here. Holders get theirs when their account is made (`shared.access.portal.holder_create`) or
enrol one themselves (`shared.identity.services`), with single-use recovery codes
(`one_time_code_match`)."""

import base64
import hashlib
import secrets
from binascii import unhexlify

from django.db import transaction
from django_otp import match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.accounts.models import User
from shared.audit.services import audit_record
from shared.core.errors import ForbiddenError

DEVICE_NAME = "控制台动态口令"


def totp_secret(device: TOTPDevice) -> str:
    """The device's key in base32, as authenticator apps take it when typed in by hand."""
    return base64.b32encode(unhexlify(device.key)).decode().rstrip("=")


RECOVERY_GROUPS = 4  # a recovery code: 4 groups of 4 base32 characters (80 bits)


def recovery_code_new() -> str:
    """A recovery code as shown to the holder, e.g. `k3vq-7mxa-p2dn-hw4e`; never all digits
    (a code of digits only would be taken for a TOTP code)."""
    while True:
        raw = base64.b32encode(secrets.token_bytes(10)).decode().lower()
        if not raw.isdigit():
            return "-".join(raw[i : i + 4] for i in range(0, 4 * RECOVERY_GROUPS, 4))


def recovery_code_digest(code: str) -> str:
    """What is stored of a recovery code (in otp_static's 16-character token column): 64 bits
    of its SHA-256. The code has 80 random bits, so the digest cannot be walked back; a
    database reader learns no usable code."""
    normal = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def one_time_code_match(user: User, token: str) -> Device | None:
    """The device that accepts `token`: six digits are a TOTP code (django_otp's throttled
    check), anything else a recovery code, used up here by one DELETE (of two sign-ins
    racing with the same code, exactly one gets the row)."""
    token = token.strip()
    if token.isdigit():
        return match_token(user, token)
    digest = recovery_code_digest(token)
    with transaction.atomic():
        used = StaticToken.objects.filter(
            device__user=user, device__confirmed=True, token=digest
        ).select_related("device")
        row = used.first()
        if row is None or StaticToken.objects.filter(pk=row.pk).delete()[0] != 1:
            return None
        return row.device


def one_time_code_devices(user: User) -> bool:
    """Whether the account has any confirmed device (else it still has to enrol one)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or StaticDevice.objects.filter(user=user, confirmed=True).exists()
    )


def _may_enrol(actor: User | None, user: User) -> bool:
    if actor is None or actor.is_library_admin:
        return True
    return actor.is_agency_admin and user.agency_id == actor.agency_id and not user.is_library_admin


@transaction.atomic
def staff_totp_enrol(
    *, actor: User | None, user: User, key: str | None = None, reason: str = ""
) -> TOTPDevice:
    """Give `user` a new confirmed TOTP device, replacing any it had (a lost phone, a new
    member of staff): the caller shows its secret once. The library administrator enrols
    anyone, an agency administrator the staff of their agency; `actor=None` is seeding.
    Audited with the actor and the reason: `user.otp_reset` when a device is replaced,
    `user.otp_enrol` for the first one."""
    if user.is_holder:
        raise ForbiddenError("otp.staff_only", "持证人的动态口令由持证人自行绑定，由库管理员重置")
    if not _may_enrol(actor, user):
        raise ForbiddenError("permission.denied", "只能为本单位人员设置动态口令")
    replaced = TOTPDevice.objects.filter(user=user).delete()[0]
    device = TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, confirmed=True, **({"key": key} if key else {})
    )
    audit_record(
        actor=actor,
        action="user.otp_reset" if replaced else "user.otp_enrol",
        target_type="user",
        target_id=str(user.pk),
        before=None,
        after=None,
        detail={"reason": reason.strip()[:200], "username": user.username},
    )
    return device
