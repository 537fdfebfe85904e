"""One-time-code devices of staff (art. 29 applies to the console as to the holder portal):
a staff member signs in to the console with password and a TOTP code from a device enrolled
here. Holders get theirs when their account is made (`shared.access.portal.holder_create`)."""

import base64
from binascii import unhexlify

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.accounts.models import User
from shared.core.errors import ForbiddenError

DEVICE_NAME = "控制台动态口令"


def totp_secret(device: TOTPDevice) -> str:
    """The device's key in base32, as authenticator apps take it when typed in by hand."""
    return base64.b32encode(unhexlify(device.key)).decode().rstrip("=")


def _may_enrol(actor: User | None, user: User) -> bool:
    if actor is None or actor.is_library_admin:
        return True
    return actor.is_agency_admin and user.agency_id == actor.agency_id and not user.is_library_admin


@transaction.atomic
def staff_totp_enrol(*, actor: User | None, user: User, key: str | None = None) -> TOTPDevice:
    """Give `user` a new confirmed TOTP device, replacing any it had (a lost phone, a new
    member of staff): the caller shows its secret once. The library administrator enrols
    anyone, an agency administrator the staff of their agency; `actor=None` is seeding."""
    if user.is_holder:
        raise ForbiddenError("otp.staff_only", "持证人的动态口令在注册持证人账户时生成")
    if not _may_enrol(actor, user):
        raise ForbiddenError("permission.denied", "只能为本单位人员设置动态口令")
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(
        user=user, name=DEVICE_NAME, confirmed=True, **({"key": key} if key else {})
    )
