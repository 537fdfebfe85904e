"""Demo notices (`hub compliance demo`, run by deploy/demo.py after seeding): one already
escalated, so the public criticism page is not empty, and one open for a city agency, which
travels down to its node where the agency's staff see and answer it. Safe to run twice."""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provincial_hub.compliance import services
from provincial_hub.compliance.models import RectificationNotice
from shared.accounts.models import Agency, User
from shared.core.errors import NotFoundError
from shared.domain.notices import Rule

DEMO_PERIOD = "demo"


def _supervisor() -> User | None:
    return User.objects.filter(role=User.Role.SUPERVISOR).order_by("pk").first()


def _wait_for(code: str, wait_seconds: float) -> Agency:
    """A city's agency reaches the hub with the city's first licences: wait for it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        agency = Agency.objects.filter(code=code).first()
        if agency is not None:
            return agency
        if time.monotonic() >= deadline:
            raise NotFoundError("agency.not_found", "单位尚未汇聚到省级库", {"agency_code": code})
        time.sleep(0.5)


def seed_compliance_demo(*, city_agency_code: str, wait_seconds: float = 60) -> dict[str, str]:
    actor = _supervisor()
    found = {
        n.rule: n
        for n in RectificationNotice.objects.filter(period=DEMO_PERIOD).select_related("agency")
    }
    if Rule.catalog_stale not in found:
        provincial = (
            Agency.objects.filter(level=Agency.Level.PROVINCE, is_issuer=True)
            .order_by("code")
            .first()
        )
        if provincial is None:
            raise NotFoundError("agency.not_found", "省级库尚无签发单位，请先运行 seed_demo")
        notice = services.notice_issue(
            actor=actor,
            rule=Rule.catalog_stale.value,
            agency=provincial,
            summary="2 个已签发证照的证照类型超过 365 天未维护（演示数据）",
            findings={"demo": True},
            period=DEMO_PERIOD,
            issued_at=timezone.now() - timedelta(days=30),
        )
        services.notice_escalate_due()
        found[Rule.catalog_stale] = notice
    if Rule.aggregation_late not in found:
        agency = _wait_for(city_agency_code, wait_seconds)
        found[Rule.aggregation_late] = services.notice_issue(
            actor=actor,
            rule=Rule.aggregation_late.value,
            agency=agency,
            summary="近 30 天汇聚的 40 张证照中有 6 张超过汇聚时限（15%）（演示数据）",
            findings={"demo": True, "window_days": 30, "arrivals": 40, "late": 6},
            period=DEMO_PERIOD,
        )
    return {
        "escalated": str(found[Rule.catalog_stale].pk),
        "open": str(found[Rule.aggregation_late].pk),
        "library": settings.LIBRARY_CODE,
    }
