"""Paging for every list endpoint (`REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]`)."""

import re

from rest_framework import pagination
from rest_framework.request import Request

from shared.core.api.parsers import INT64_MAX, InputRefused

# What DRF's `int()` reads as an integer (Unicode digits included, e.g. full-width ones).
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """DRF's `?limit=&offset=`, with a ceiling on `limit` and integers kept within 64 bits.

    DRF passes any integer on to the database: `?limit=9223372036854775808` is a slice past
    signed 64 bits, which PostgreSQL refuses (400 through the exception handler) but SQLite
    answers with `OverflowError` (500). Such a value is refused here with 400 before any query;
    an in-range `limit` above `max_limit` is cut to it, as DRF does when `max_limit` is set.
    Values that are not integers keep DRF's lenient meaning (the default page)."""

    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None):
        # Both before DRF's count query (it reads `offset` only after counting).
        _refuse_out_of_range(request, self.limit_query_param)
        _refuse_out_of_range(request, self.offset_query_param)
        return super().paginate_queryset(queryset, request, view)


def _refuse_out_of_range(request: Request, name: str) -> None:
    value = request.query_params.get(name)
    if value is None or not _INTEGER.fullmatch(value):
        return
    try:
        number: int | None = int(value)
    except ValueError:  # past Python's 4,300-digit limit for int()
        number = None
    if number is None or abs(number) > INT64_MAX:
        raise InputRefused(
            "request.number_out_of_range",
            f"分页参数 {name} 超出允许范围（最大 {INT64_MAX}）",
            {"param": name, "max": INT64_MAX},
        )
