"""Demo data for delegation (issue #14 item 1): the holder account of the library's first
company with a licence (a legal person), which has delegated to the demo holder (张伟, a
natural person) the right to act for it, so 张伟 can switch to "代表 <法人名称>" in the portal.

Deterministic (keys derived from `demo_data.demo_seed_key`) and safe to run twice."""

import base64
from typing import Any

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access.portal import holder_create
from shared.accounts.models import User
from shared.delegation.models import Delegation
from shared.delegation.services import delegation_grant
from shared.demo.access import _derived
from shared.domain.holder_codes import CODE_TYPE_USCC
from shared.licenses.models import License


def seed_delegation_demo(*, holder: dict[str, Any], password: str, prefix: str) -> dict[str, Any]:
    """The legal person's credentials (as the holder's) and whom it delegated to; {} when the
    library holds no company licence."""
    lic = (
        License.objects.filter(holder_code_type=CODE_TYPE_USCC, library_code=settings.LIBRARY_CODE)
        .order_by("id")
        .first()
    )
    if lic is None:
        return {}
    username = f"{prefix}_corp"
    key = _derived("corp-totp", 20)
    user = User.objects.filter(username=username).first()
    if user is None:
        user, _ = holder_create(
            username=username,
            password=password,
            display_name=lic.holder_name,
            holder_code=lic.holder_code,
            holder_code_type=CODE_TYPE_USCC,
            totp_key=key.hex(),
        )
    live = Delegation.objects.filter(
        principal=user, delegate__username=holder["username"], revoked_at__isnull=True
    ).exists()
    if not live:
        delegation_grant(principal=user, delegate_username=holder["username"], days=365)
    device = TOTPDevice.objects.filter(user=user).first()
    return {
        "username": username,
        "password": password,
        "name": lic.holder_name,
        "holder_code_type": CODE_TYPE_USCC,
        "totp_secret": base64.b32encode(key).decode().rstrip("="),
        "otpauth_uri": device.config_url if device else "",
        "login_path": "/holder/login/",
        "delegate": holder["username"],
    }
