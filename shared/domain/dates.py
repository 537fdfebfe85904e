"""The range of dates a licence may carry.

No licence of this administration is older than the People's Republic (1949-10-01), which also
covers the digitisation of paper licences (art. 16); the upper bound leaves room for long
validity periods while refusing typing errors (`0001-01-01`, `9999-12-31`) that would otherwise
be signed, printed and carried to the hub. Pure Python (no Django).
"""

from __future__ import annotations

from datetime import date

from shared.domain.errors import DomainError

__all__ = ["EARLIEST_DATE", "LATEST_DATE", "check_date"]

EARLIEST_DATE = date(1949, 10, 1)
LATEST_DATE = date(2199, 12, 31)


def check_date(value: date, *, field: str, label: str) -> date:
    """Return ``value`` if it lies in [`EARLIEST_DATE`, `LATEST_DATE`], else raise
    ``date.out_of_range`` naming the field (``detail``: field, value, earliest, latest)."""
    if EARLIEST_DATE <= value <= LATEST_DATE:
        return value
    raise DomainError(
        "date.out_of_range",
        f"{label}应在 {EARLIEST_DATE.isoformat()} 至 {LATEST_DATE.isoformat()} 之间",
        {
            "field": field,
            "value": value.isoformat(),
            "earliest": EARLIEST_DATE.isoformat(),
            "latest": LATEST_DATE.isoformat(),
        },
    )
