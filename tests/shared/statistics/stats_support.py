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
