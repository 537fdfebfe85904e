"""Demo data for notifications (issue #14): the demo holder and the issuer's staff get e-mail
addresses, and one licence of the holder expires in 30 days, so the daily reminder job has
something to send to the demo's mailbox at once. Safe to run twice, like `seed_demo`."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from shared.accounts.models import User
from shared.catalog.models import LicenseType
from shared.demo import data
from shared.licenses.issuing import license_issue
from shared.licenses.models import License
from shared.licenses.validation import Holder
from shared.notifications.models import Contact
from shared.notifications.producers import expiry_reminders

DOMAIN = "demo.elicense.local"


def seed_notifications_demo(
    *, holder: dict[str, Any], issuer: User, types: list[LicenseType]
) -> int:
    """Returns how many licences the expiry job reminded (0 on a second run)."""
    for user in User.objects.filter(username__in=[holder["username"], issuer.username]):
        if not user.email:
            user.email = f"{user.username}@{DOMAIN}"
            user.save(update_fields=["email"])
    holder_user = User.objects.get(username=holder["username"])
    Contact.objects.get_or_create(user=holder_user, defaults={"phone": "13800000000"})
    personal = types[len(data.TYPES) - 1]
    number = f"DEMO{settings.LIBRARY_CODE}EXP1"
    if not License.objects.filter(license_type=personal, number=number).exists():
        today = timezone.localdate()
        license_issue(
            actor=issuer,
            type_code=personal.type_code,
            number=number,
            holder=Holder(
                name=holder["name"],
                code=holder["holder_code"],
                code_type=holder["holder_code_type"],
            ),
            valid_from=today - timedelta(days=335),
            valid_to=today + timedelta(days=30),
            mode="online",
            case_completed_at=timezone.now() - timedelta(minutes=5),
            matter_code=data.TYPES[len(data.TYPES) - 1]["matters"][0][0],
            surface=data.sample_surface(personal.name, holder["name"], settings.LIBRARY_NAME[:3]),
        )
    return expiry_reminders()
