"""Demo data for review requests (art. 24): a few open requests of the consumer — one fresh,
one a working day from its deadline (reminded), one past it (flagged overdue) — and one of the
demo holder's, so the issuer's inbox, the overdue count and the holder portal have something
to show. Filed through the services with an earlier receipt time; safe to run twice.
"""

from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from shared.accounts.models import User
from shared.calendars.selectors import workday_calendar
from shared.core.holder_codes import holder_digests_of
from shared.licenses.models import License
from shared.reviews.deadlines import review_sweep
from shared.reviews.models import ReviewRequest
from shared.reviews.services import review_create

# (working days before today it was received, the field disputed, why): 0 fresh, 4 due on
# the next working day (reminded), 7 two working days past its deadline (flagged overdue).
CONSUMER_REVIEWS = [
    (0, "经营项目", "照面“经营项目”与营业执照登记的经营范围不一致，申请核实更正"),
    (4, "holder_name", "持证主体名称缺少“有限公司”字样，与统一社会信用代码登记名称不一致"),
    (7, "valid_to", "有效期截止日期与纸质许可证不一致，请核实"),
]
HOLDER_REASON = "照面上的经营场所地址门牌号有误，应为 18 号"


def _received(working_days_ago: int) -> datetime:
    """Now, or 10:00 on the day that many working days before today."""
    if not working_days_ago:
        return timezone.now()
    calendar, today = workday_calendar(), timezone.localdate()
    day = today - timedelta(days=1)
    while calendar.workdays_between(day, today)[0] < working_days_ago:
        day -= timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(10)))


def seed_reviews_demo(*, consumer: User, access: dict[str, Any]) -> int:
    """File the demo requests unless the consumer has filed some already; returns how many.
    `access` is what `seed_access_demo` returned (the consumer's grants, the holder)."""
    agency = consumer.agency
    if agency is None or ReviewRequest.objects.filter(requester_agency_code=agency.code).exists():
        return 0
    grant = access["grants"][0]
    licences = License.objects.filter(
        license_type__type_code=grant["type_code"], status="valid"
    ).order_by("id")
    filed = 0
    for lic, (days_ago, field, reason) in zip(licences, CONSUMER_REVIEWS, strict=False):
        review_create(
            actor=consumer,
            identifier=lic.identifier,
            reason=reason,
            fields=[field],
            matter_code=grant["matter_code"],
            use_cause="办理食品经营许可变更，核验原证信息",
            now=_received(days_ago),
        )
        filed += 1
    person = User.objects.filter(username=access["holder"]["username"]).first()
    mine = (
        License.objects.filter(
            holder_code_digest__in=holder_digests_of(person), status="valid"
        ).first()
        if person is not None
        else None
    )
    if person is not None and mine is not None:
        review_create(actor=person, identifier=mine.identifier, reason=HOLDER_REASON)
        filed += 1
    review_sweep()  # the reminder of the one due tomorrow, the flag of the overdue one
    return filed
