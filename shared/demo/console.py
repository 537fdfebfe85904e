"""Demo staff who can sign in to the console: each gets a TOTP device whose secret is derived
from `demo_data.demo_seed_key` (so seeding twice keeps the same secrets) and written to the
credentials file, where `deploy/demo.py code <library> <username>` reads it to print the
current one-time code."""

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from shared.access.otp import staff_totp_enrol, totp_secret
from shared.accounts.models import User
from shared.demo import data


def _key(username: str) -> str:
    mac = hmac.new(
        data.demo_seed_key(),  # never a public default: the secret signs a member of staff in
        f"demo:{settings.LIBRARY_CODE}:console-totp:{username}".encode(),
        hashlib.sha256,
    )
    return mac.digest()[:20].hex()


def seed_console_demo(people: list[User]) -> dict[str, Any]:
    """A TOTP device for each of `people` (kept when it already has this key); the console's
    sign-in path and each person's username, role, agency and TOTP secret (base32)."""
    users = []
    for person in people:
        key = _key(person.username)
        device = TOTPDevice.objects.filter(user=person, key=key).first()
        if device is None:
            device = staff_totp_enrol(actor=None, user=person, key=key)
        users.append(
            {
                "username": person.username,
                "role": person.role,
                "agency_code": person.agency.code if person.agency else "",
                "agency_name": person.agency.name if person.agency else "",
                "totp_secret": totp_secret(device),
            }
        )
    return {"login_path": "/console/login/", "users": users}
