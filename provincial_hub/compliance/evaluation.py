"""The daily evaluation: every rule, then a notice for each breach that has none (art. 31, 33).

Idempotent: a breach makes a notice only when there is no notice for the same (rule, subject,
period) and no open notice for the same (rule, subject). The first keeps a breach that is fixed
and accepted from being noticed again in its period (late arrivals cannot be undone); the second
keeps a breach that lasts from being noticed again each period while its first notice is open.
The unique constraint (rule, subject, period) holds against two runs at once.
"""

import logging
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from provincial_hub.compliance import rules, services
from provincial_hub.compliance.models import EvaluationRun, RectificationNotice
from shared.calendars.selectors import workday_calendar
from shared.domain.notices import OPEN_STATES

logger = logging.getLogger(__name__)


def _covered(breach: rules.Breach) -> bool:
    """A notice already answers for this breach."""
    same = RectificationNotice.objects.filter(
        rule=breach.rule, subject_key=breach.subject_key, automatic=True
    )
    return (
        same.filter(period=breach.period).exists()
        or same.filter(state__in=[s.value for s in OPEN_STATES]).exists()
    )


def breach_notice(breach: rules.Breach) -> RectificationNotice | None:
    """The notice for `breach`, or None when one already answers for it."""
    if _covered(breach):
        return None
    try:
        with transaction.atomic():
            return services.notice_issue(
                actor=None,
                rule=breach.rule.value,
                agency=breach.agency,
                city_code=breach.city_code,
                summary=breach.summary,
                findings=breach.findings,
                period=breach.period,
            )
    except IntegrityError:
        return None  # another run issued it a moment ago


def compliance_evaluate(*, day: date | None = None, trigger: str = "beat") -> EvaluationRun:
    """Evaluate every rule for `day` (today by default); one `EvaluationRun` row says what
    each rule found and how many notices it made."""
    day = day or timezone.localdate()
    run = EvaluationRun.objects.create(day=day, trigger=trigger)
    context = rules.Context(day=day, calendar=workday_calendar())
    for rule, evaluate in rules.RULES.items():
        breaches = evaluate(context)
        created = sum(1 for breach in breaches if breach_notice(breach) is not None)
        run.by_rule[rule.value] = {"breaches": len(breaches), "notices": created}
        run.breaches += len(breaches)
        run.notices_created += created
    run.finished_at = timezone.now()
    run.save()
    logger.info(
        "compliance.evaluated day=%s breaches=%s notices=%s",
        day,
        run.breaches,
        run.notices_created,
    )
    return run
