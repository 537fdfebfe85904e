"""Helpers of the statistics tests: the counters as a dict, and the same numbers counted
directly from the source tables (what a naive report would do), to compare the two."""

from collections import Counter as Tally
from zoneinfo import ZoneInfo

from shared.access.models import AccessRecord
from shared.federation.models import Arrival
from shared.licenses.models import LicenseEvent
from shared.statistics.models import Counter

SHANGHAI = ZoneInfo("Asia/Shanghai")
ACCESS_OPS = {"query", "verify", "compare"}


def month(moment):
    return moment.astimezone(SHANGHAI).date().replace(day=1)


def counters(metrics=None):
    rows = Counter.objects.all()
    if metrics is not None:
        rows = rows.filter(metric__in=metrics)
    return {
        (
            c.month,
            c.library_code,
            c.agency_code,
            c.type_code,
            c.metric,
            c.consumer_code,
            c.matter_code,
        ): c.count
        for c in rows
        if c.count
    }


def direct_events(libraries=None):
    found = Tally()
    for e in LicenseEvent.objects.select_related("license__issuer", "license__license_type"):
        lic = e.license
        if libraries is not None and lic.library_code not in libraries:
            continue
        key = (
            month(e.created_at),
            lic.library_code,
            lic.issuer.code,
            lic.license_type.type_code,
            e.action,
            "",
            "",
        )
        found[key] += 1
    return dict(found)


def direct_access():
    found = Tally()
    for r in AccessRecord.objects.filter(seq__isnull=False, operation__in=ACCESS_OPS):
        metric = "access_refused" if r.outcome == "refused" else r.operation
        key = (
            month(r.occurred_at),
            r.source_library or r.library_code,
            r.issuer_code,
            r.type_code,
            metric,
            r.agency_code,
            r.matter_code,
        )
        found[key] += 1
    return dict(found)


def direct_arrivals():
    found = Tally()
    for a in Arrival.objects.all():
        base = (month(a.arrived_at), a.library_code, a.issuer_code, a.key.split(".")[0])
        found[(*base, "arrival", "", "")] += 1
        if a.late:
            found[(*base, "arrival_late", "", "")] += 1
    return dict(found)


def event_metrics():
    return set(LicenseEvent.objects.values_list("action", flat=True).distinct())


def direct_reviews():
    """The review facts counted straight from the requests: received in the month received,
    answered (how, on time or late) in the month answered, overdue in the deadline's month."""
    from shared.reviews.models import ReviewRequest

    found = Tally()
    for r in ReviewRequest.objects.select_related("issuer", "license_type"):
        dims = (r.library_code, r.issuer.code, r.license_type.type_code)
        tail = (r.requester_agency_code, r.matter_code)
        found[(month(r.received_at), *dims, "review_received", *tail)] += 1
        if r.state != "open":
            answered = month(r.answered_at)
            found[(answered, *dims, f"review_{r.state}", *tail)] += 1
            found[
                (answered, *dims, "review_late" if r.answered_late else "review_on_time", *tail)
            ] += 1
        if r.overdue:
            found[(r.deadline.replace(day=1), *dims, "review_overdue", *tail)] += 1
    return dict(found)


def direct_inspections():
    from shared.inspections.models import Inspection

    found = Tally()
    for i in Inspection.objects.select_related("issuer", "license_type"):
        dims = (i.library_code, i.issuer.code, i.license_type.type_code)
        found[(month(i.submitted_at), *dims, "inspection_submitted", "", "")] += 1
        if i.state == "approved":
            found[(month(i.decided_at), *dims, "inspection_approved", "", "")] += 1
            if i.late:
                found[(month(i.decided_at), *dims, "inspection_late", "", "")] += 1
        elif i.state == "refused":
            found[(month(i.decided_at), *dims, "inspection_refused", "", "")] += 1
    return dict(found)
