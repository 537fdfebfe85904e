"""Demo data for sharing: the consumer's grants, a holder with a TOTP device, a few uses.

Deterministic (keys derived from `demo_data.demo_seed_key`) and safe to run twice, like `seed_demo`.
"""

import base64
import hashlib
import hmac
from typing import Any

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access.models import AccessRecord, Grant
from shared.access.portal import holder_create
from shared.access.services import share_query
from shared.accounts.models import Agency, User
from shared.catalog.models import LicenseType
from shared.core.holder_codes import holder_digests_of
from shared.core.tier import is_hub
from shared.demo import data
from shared.licenses.models import License


def _derived(label: str, size: int) -> bytes:
    mac = hmac.new(
        data.demo_seed_key(),  # never a public default (the TOTP secret signs a holder in)
        f"demo:{settings.LIBRARY_CODE}:{label}".encode(),
        hashlib.sha256,
    )
    return mac.digest()[:size]


def seed_access_demo(
    *,
    consumer: User,
    consumer_agency: Agency,
    admin: User,
    types: list[LicenseType],
    password: str,
    prefix: str,
) -> dict[str, Any]:
    """Grants for the first type and the personal type; a holder (张伟) who can sign in with a
    one-time code; and the consumer's queries for that holder's licence."""
    grants = _grants(consumer_agency=consumer_agency, admin=admin, types=types)

    area = settings.LIBRARY_CODE
    name, birth, seq = data.PEOPLE[0]
    code = data.make_citizen_id(area=area[:4] + "02", birth=birth, seq=seq)
    username = f"{prefix}_holder"
    key = _derived("holder-totp", 20)
    user = User.objects.filter(username=username).first()
    if user is None:
        user, device = holder_create(
            username=username,
            password=password,
            display_name=name,
            holder_code=code,
            holder_code_type="111",
            totp_key=key.hex(),
        )
    device = TOTPDevice.objects.filter(user=user).first()

    personal = types[len(data.TYPES) - 1]
    matter = data.TYPES[len(data.TYPES) - 1]["matters"][0][0]
    has_licence = License.objects.filter(license_type=personal).exists()
    if (
        has_licence
        and not AccessRecord.objects.filter(holder_digest__in=holder_digests_of(user)).exists()
    ):
        for cause in ("办理个体工商户变更登记，核验营业执照", "申请创业担保贷款贴息，核验经营资格"):
            share_query(
                user=consumer,
                holder_code=code,
                holder_code_type="111",
                matter_code=matter,
                use_cause=cause,
            )
    secret = base64.b32encode(key).decode().rstrip("=")
    return {
        "grants": grants,
        "holder": {
            "username": username,
            "password": password,
            "name": name,
            "holder_code": code,
            "holder_code_type": "111",
            "totp_secret": secret,
            "otpauth_uri": device.config_url if device else "",
            "login_path": "/holder/login/",
        },
    }


def _grants(
    *, consumer_agency: Agency, admin: User, types: list[LicenseType]
) -> list[dict[str, str]]:
    """The consumer's grants for the first type and the personal type (kept if held)."""
    grants = []
    for index in (0, len(data.TYPES) - 1):
        license_type, matter = types[index], data.TYPES[index]["matters"][0][0]
        Grant.objects.get_or_create(
            agency=consumer_agency,
            license_type=license_type,
            matter_code=matter,
            revoked_at=None,
            defaults={
                "tier": Grant.Tier.PROVINCE if is_hub() else Grant.Tier.CITY,
                "valid_from": license_type.published_at.date()
                if license_type.published_at
                else license_type.created_at.date(),
                "granted_by": admin,
            },
        )
        grants.append({"type_code": license_type.type_code, "matter_code": matter})
    return grants
