"""Real parallel connections: serials never collide, versions stay gap-free, one action wins."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from shared.licenses.models import License, LicenseEvent, LicenseVersion
from tests.support import make_agency, make_type, make_uscc, make_user, token_client

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def run_parallel(fn, count=THREADS):
    """Run fn(i) in `count` threads, each with its own database connection, started together."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(i):
        try:
            barrier.wait(timeout=10)
            results[i] = fn(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.fixture
def setup():
    agency = make_agency("市场监督管理局", body="00001001", is_issuer=True)
    user = make_user("issuer_1", agency)
    license_type = make_type(user, seq=1, requires_review=False)
    clients = [token_client(user) for _ in range(THREADS)]
    return license_type, clients


def payload(license_type, i):
    today = timezone.localdate()
    return {
        "type_code": license_type.type_code,
        "number": f"JY{i:06d}",
        "holder": {
            "name": f"企业{i}",
            "code": make_uscc(dept="91", area="410100", body=f"MA{i:06d}"),
            "code_type": "001",
        },
        "valid_from": today.isoformat(),
        "valid_to": (today + timedelta(days=365)).isoformat(),
        "mode": "online",
        "case_completed_at": timezone.now().isoformat(),
        "surface": {"经营者名称": f"企业{i}"},
    }


def test_concurrent_issues_get_distinct_consecutive_serials(setup):
    license_type, clients = setup

    def issue(i):
        response = clients[i].post("/api/v1/licenses/", payload(license_type, i), format="json")
        return response.status_code, response.json().get("identifier")

    results = run_parallel(issue)
    assert [status for status, _ in results] == [201] * THREADS
    serials = sorted(int(ident.split(".")[-3]) for _, ident in results)
    assert serials == list(range(serials[0], serials[0] + THREADS))
    assert License.objects.count() == THREADS


def test_concurrent_renewals_keep_versions_gap_free(setup):
    license_type, clients = setup
    ident = (
        clients[0]
        .post("/api/v1/licenses/", payload(license_type, 0), format="json")
        .json()["identifier"]
    )

    def renew(i):
        valid_to = (timezone.localdate() + timedelta(days=400 + i)).isoformat()
        response = clients[i].post(
            f"/api/v1/licenses/{ident}/renew/", {"valid_to": valid_to}, format="json"
        )
        return response.status_code

    results = run_parallel(renew)
    assert set(results) <= {200, 400}
    ok = results.count(200)
    assert ok >= 1
    lic = License.objects.get()
    versions = list(LicenseVersion.objects.filter(license=lic).values_list("version", flat=True))
    assert versions == list(range(1, ok + 2))
    assert lic.version == ok + 1
    seqs = list(LicenseEvent.objects.filter(license=lic).values_list("seq", flat=True))
    assert seqs == list(range(1, ok + 2))


def test_one_of_concurrent_suspends_wins(setup):
    license_type, clients = setup
    ident = (
        clients[0]
        .post("/api/v1/licenses/", payload(license_type, 0), format="json")
        .json()["identifier"]
    )

    def suspend(i):
        response = clients[i].post(
            f"/api/v1/licenses/{ident}/suspend/", {"reason": f"并发{i}"}, format="json"
        )
        return response.status_code, response.json().get("code")

    results = run_parallel(suspend)
    assert sorted(s for s, _ in results) == [200] + [409] * (THREADS - 1)
    assert {c for s, c in results if s == 409} == {"license.illegal_transition"}
    assert LicenseEvent.objects.filter(action="suspend").count() == 1


def test_expected_version_lets_exactly_one_renewal_win(setup):
    license_type, clients = setup
    ident = (
        clients[0]
        .post("/api/v1/licenses/", payload(license_type, 0), format="json")
        .json()["identifier"]
    )

    def renew(i):
        valid_to = (timezone.localdate() + timedelta(days=400 + i)).isoformat()
        response = clients[i].post(
            f"/api/v1/licenses/{ident}/renew/",
            {"valid_to": valid_to, "expected_version": 1},
            format="json",
        )
        return response.status_code, response.json().get("code")

    results = run_parallel(renew)
    assert sorted(s for s, _ in results) == [200] + [409] * (THREADS - 1)
    assert {c for s, c in results if s == 409} == {"license.version_conflict"}
    assert License.objects.get().version == 2


def test_a_change_locks_the_licence_only_not_its_issuer_or_type(setup):
    """While a lifecycle change holds its licence, other transactions may still lock the issuer
    agency and the type rows. Locking them too (FOR UPDATE over the joined rows) made every
    change of an agency's licences queue on its agency row, and deadlocked with a bulk upload
    that held the outbox's stream counter and inserted a licence (FOR KEY SHARE on the agency):
    bench/province saw 503s at 4 changes/s with a bulk upload running."""
    from django.db import transaction
    from django.db.utils import OperationalError

    from shared.licenses.services import license_get_for_update

    license_type, clients = setup
    ident = (
        clients[0]
        .post("/api/v1/licenses/", payload(license_type, 0), format="json")
        .json()["identifier"]
    )
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                license_get_for_update(identifier=ident)
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(timeout=30)
        lic = License.objects.get(identifier=ident)
        blocked = []
        for table, pk in (
            ("accounts_agency", lic.issuer_id),
            ("catalog_licensetype", lic.license_type_id),
            ("licenses_license", lic.pk),
        ):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [pk])
            except OperationalError:
                blocked.append(table)
        assert blocked == ["licenses_license"]  # the licence itself is held, nothing else
    finally:
        release.set()
        holder.join(timeout=30)
