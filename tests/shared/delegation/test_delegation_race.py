"""Two grants of one pair at the same moment (two browser tabs, a double click) leave one
delegation: the unique constraint on live pairs decides, and the grant that loses renews the
row the other made instead of failing."""

import threading

import pytest
from django.db import connection

from shared.audit.models import AuditEntry
from shared.delegation.models import Delegation
from shared.delegation.services import delegation_grant

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_grants_of_one_pair_make_one_delegation(company, staff):
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def grant(days):
        try:
            barrier.wait()
            delegation_grant(principal=company, delegate_username="zhang_wei", days=days)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=grant, args=(10 + n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then
    assert errors == []
    assert Delegation.objects.filter(revoked_at__isnull=True).count() == 1
    actions = sorted(
        AuditEntry.objects.filter(target_type="delegation").values_list("action", flat=True)
    )
    assert actions == ["delegation.grant"] + ["delegation.renew"] * 3
