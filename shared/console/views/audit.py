"""管理审计 (both tiers): the administrative audit trail (art. 28) for the library administrator
and the supervisor, filtered as the API filters it (`AuditEntryFilterSet`: action prefix, actor,
date range), before/after shown side by side as a diff, and the same rows as CSV
(`shared.audit.export`, the API export's own writer)."""

import json
from datetime import timedelta
from typing import Any, cast

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.dateparse import parse_date

from shared.accounts.requests import AuthenticatedHttpRequest
from shared.audit import export, selectors
from shared.audit.api.filters import AuditEntryFilterSet
from shared.audit.models import AuditEntry
from shared.console import roles
from shared.console.helpers import paginate

FIELDS = ("action_prefix", "actor", "since", "until")


def reads_audit(user: Any) -> bool:
    return selectors.audit_readable_by(user)


def _filtered(request: AuthenticatedHttpRequest) -> tuple[Any, dict[str, str], list[str]]:
    """The rows the filters ask for, the filters as typed, and what was wrong with them.
    `until` is a day included (the API's is exclusive): the form asks for dates."""
    asked = {k: request.GET.get(k, "").strip()[:64] for k in FIELDS}
    data = {k: v for k, v in asked.items() if v}
    try:  # a well-formed impossible date (2027-02-30) raises; the filter then refuses it
        until = parse_date(asked["until"]) if asked["until"] else None
    except ValueError:
        until = None
    if until is not None:
        data["until"] = (until + timedelta(days=1)).isoformat()
    rows = selectors.audit_list(user=request.user)
    filters = AuditEntryFilterSet(data=data, queryset=rows)
    if not filters.is_valid():
        errors = [str(m) for messages in filters.errors.values() for m in messages]
        return rows.none(), asked, errors
    return filters.qs, asked, []


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value or "（空）"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff(entry: AuditEntry) -> list[dict[str, Any]]:
    """Every field of before and after, one row each, the changed ones marked: what a person
    reads faster than two JSON documents."""
    before = entry.before if isinstance(entry.before, dict) else {}
    after = entry.after if isinstance(entry.after, dict) else {}
    if entry.before is not None and not isinstance(entry.before, dict):
        before = {"值": entry.before}
    if entry.after is not None and not isinstance(entry.after, dict):
        after = {"值": entry.after}
    rows = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        rows.append(
            {
                "field": key,
                "was": _shown(was) if key in before else "",
                "now": _shown(now) if key in after else "",
                "changed": key not in before or key not in after or was != now,
            }
        )
    return rows


@roles.console_view(reads_audit)
def audit(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows, asked, errors = _filtered(request)
    page = paginate(request, rows)
    context = {
        "page": page,
        "entries": [{"entry": e, "diff": diff(e)} for e in page.object_list],
        "asked": asked,
        "errors": errors,
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "console/supervision/audit.html", context, status=400 if errors else 200)


@roles.console_view(reads_audit)
def audit_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows, _, errors = _filtered(request)
    if errors:
        return HttpResponse("；".join(errors), status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        export.csv_rows(rows[: export.ROW_CAP].iterator(chunk_size=2000)),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="audit-{settings.LIBRARY_CODE}.csv"'
    # console_view passes the response on untouched; streamed, as the API's export, so a
    # 200,000-row export is never held in memory
    return cast(HttpResponse, response)
