"""`copy_values` prepares each value as the ORM would for an INSERT: what COPY takes as it is
goes as it is, anything else through its field (checked a row at a time, so one odd value
must not slip through beside values that need nothing)."""

import warnings
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from shared.core.bulk import copy_values
from shared.federation.models import Arrival

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def row(key: str, **changes):
    values = {
        "key": key,
        "library_code": "410100",
        "issuer_code": "11410100MB0000001X",
        "mode": "online",
        "case_completed_at": AT,
        "committed_at": AT,
        "arrived_at": AT,
        "lag_seconds": 1.5,
        "deadline_at": AT,
        "late": True,
    }
    return values | changes


def test_values_that_need_nothing_and_values_that_need_their_field_land_alike():
    naive = datetime(2026, 12, 6, 16, 0)  # what a naive time means here: the current zone
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Django warns of the naive time
        copy_values(
            Arrival,
            [
                row("a"),
                row("b", lag_seconds=3, committed_at="2026-12-06T09:00:00+00:00"),
                row("c", case_completed_at=naive),
            ],
        )
    got = {a.key: a for a in Arrival.objects.all()}
    assert got["a"].lag_seconds == 1.5 and got["a"].late is True
    assert got["a"].deadline_provisional is False  # left out: the field's default
    assert got["b"].lag_seconds == 3.0  # an int to a float column: prepared
    assert got["b"].committed_at == datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # text: parsed
    assert got["c"].case_completed_at == timezone.make_aware(naive)


def test_drawn_keys_are_the_rows_keys_in_order():
    ids = copy_values(Arrival, [row("x"), row("y")], with_ids=True)
    assert dict(Arrival.objects.values_list("key", "pk")) == {"x": ids[0], "y": ids[1]}
