"""Queries to the provincial sector libraries, answered live at the hub (art. 9).

Their licences are never stored here nor sent to cities: each answer item says which library it
came from, and a library that does not answer is named in `unavailable` instead of failing the
whole query.

Every call's outcome (a query or a probe) is a `SectorCall` row written right where the call is
made: the console's health screen reads them.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provincial_hub.aggregation.models import SectorCall, SectorLibrary
from shared.access.sources import SectorAnswer
from shared.exchange.sector import SectorLibraryClient, SectorQuery, SectorUnavailableError


def sector_query(
    *,
    holder_code: str,
    holder_code_type: str,
    matter_code: str,
    use_cause: str,
    requester: str,
    type_codes: list[str] | None = None,
) -> SectorAnswer:
    answer = SectorAnswer()
    for library in SectorLibrary.objects.filter(active=True).order_by("code"):
        wanted = [t for t in library.type_codes if not type_codes or t in type_codes]
        if not wanted:
            continue
        client = SectorLibraryClient(base_url=library.base_url, token=library.token)
        started = time.monotonic()
        try:
            items = client.query(
                SectorQuery(
                    holder_code=holder_code,
                    holder_code_type=holder_code_type,
                    matter_code=matter_code,
                    use_cause=use_cause,
                    requester=requester,
                    type_codes=tuple(wanted),
                )
            )
        except SectorUnavailableError as exc:
            _record(library, SectorCall.Kind.QUERY, started, error=str(exc))
            answer.unavailable.append(library.code)
            continue
        _record(library, SectorCall.Kind.QUERY, started)
        for item in items:
            if item.get("type_code") in wanted:
                answer.licenses.append(
                    item
                    | {
                        "library_code": library.code,
                        "library_name": library.name,
                        "source": "sector",
                    }
                )
    return answer


def sector_library_probe(*, library: SectorLibrary, actor: str) -> SectorCall:
    """The operator's 检测: call the library's health check now and record the outcome as any
    other call (so the screen's health reflects it). Disabled libraries are probed too: that
    is how an operator checks one before enabling it."""
    client = SectorLibraryClient(base_url=library.base_url, token=library.token)
    started = time.monotonic()
    try:
        client.health()
    except SectorUnavailableError as exc:
        return _record(library, SectorCall.Kind.PROBE, started, error=str(exc), by=actor)
    return _record(library, SectorCall.Kind.PROBE, started, by=actor)


def sector_calls_purge() -> int:
    """Forget call records older than SECTOR_CALLS_KEEP_DAYS (the screen reads 24 hours and
    the last success / failure); returns how many went. Safe to run twice."""
    before = timezone.now() - timedelta(days=settings.SECTOR_CALLS_KEEP_DAYS)
    deleted, _ = SectorCall.objects.filter(at__lt=before).delete()
    return deleted


def _record(
    library: SectorLibrary, kind: str, started: float, *, error: str = "", by: str = ""
) -> SectorCall:
    return SectorCall.objects.create(
        library=library,
        kind=kind,
        ok=not error,
        latency_ms=(time.monotonic() - started) * 1000,
        error=error[:300],
        by=by,
    )
