"""Thin tasks for beat: the daily evaluation and the escalation of notices past their deadline
(both safe to run twice)."""

from celery import shared_task

from provincial_hub.compliance.evaluation import compliance_evaluate
from provincial_hub.compliance.services import notice_escalate_due


@shared_task(name="compliance.evaluate")
def evaluate() -> int:
    return compliance_evaluate(trigger="beat").notices_created


@shared_task(name="compliance.escalate")
def escalate() -> int:
    return notice_escalate_due()
