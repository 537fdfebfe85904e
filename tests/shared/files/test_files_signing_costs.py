"""What one licence costs the database, on the API side and in the signing worker, and the
per-process copy of the active keys (`keystore.current`): kept for FILES_KEY_CACHE_SECONDS,
forgotten at once by a rotation or revocation in this process, and never used to mark a file
ready with a seal revoked meanwhile by another process."""

import re
import time

import pytest
from django.db import connection
from django.utils import timezone

from shared.core.errors import RetryableError
from shared.files import keystore, signing
from shared.files.models import LicenseFile, SigningKey
from shared.licenses.models import License
from tests.shared.files.files_support import issue, render_pending
from tests.support import make_uscc

TABLE = re.compile(r'^\s*(WITH \w+ AS \(INSERT INTO|INSERT INTO|UPDATE|SELECT .*? FROM) "(\w+)"')


class Statements:
    """The statements run on the default connection, without the test's own savepoints.
    (CaptureQueriesContext loses them: a request's start empties `connection.queries_log`.)"""

    def __init__(self) -> None:
        self.sql: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        if not sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            self.sql.append(sql)
        return execute(sql, params, many, context)

    def tables(self) -> list[tuple[str, str]]:
        found = []
        for sql in self.sql:
            match = TABLE.match(sql)
            assert match, sql
            found.append((match.group(1).split()[0], match.group(2)))
        return found


def payload(issue_payload, i):
    return issue_payload(
        number=f"JY1410100009{i:04d}",
        holder={
            "name": f"郑州豫中食品有限公司{i}",
            "code": make_uscc(dept="91", area="410100", body=f"MC{i:06d}"),
            "code_type": "001",
        },
    )


@pytest.fixture
def keys_kept(settings):
    settings.FILES_KEY_CACHE_SECONDS = 60
    keystore.forget_current_keys()
    yield
    keystore.forget_current_keys()


def test_the_issue_call_costs_nine_statements(issuer, issue_payload, pki):
    # given: the token's last use was just recorded (at most once a minute)
    issue(issuer, payload(issue_payload, 0))
    statements = Statements()
    # when
    with connection.execute_wrapper(statements):
        body = issue(issuer, payload(issue_payload, 1))
    # then: the token, the type, then only writes; the answer re-reads nothing
    assert body["file"]["state"] == "pending"
    assert statements.tables() == [
        ("SELECT", "accounts_apitoken"),
        ("SELECT", "catalog_licensetype"),
        ("INSERT", "licenses_serialcounter"),
        ("INSERT", "licenses_license"),
        ("INSERT", "licenses_licenseversion"),
        ("INSERT", "licenses_licenseevent"),
        ("INSERT", "files_statuslistindex"),
        ("INSERT", "files_licensefile"),
        ("WITH", "federation_streamcounter"),  # the outbox row, numbered in the same statement
    ]


def test_the_signing_task_costs_four_statements_per_file(issuer, issue_payload, pki, keys_kept):
    # given: a first file rendered, so this process holds the token key and the seal
    issue(issuer, payload(issue_payload, 0))
    issue(issuer, payload(issue_payload, 1))
    first, second = LicenseFile.objects.order_by("pk").values_list("pk", flat=True)
    signing.license_file_render(file_id=first)
    statements = Statements()
    # when
    with connection.execute_wrapper(statements):
        row = signing.license_file_render(file_id=second)
    # then: the attempt and the row, the version with its licence, type, issuer and status
    # index, the ready update (which checks the seal), the outbox row with its number
    assert row.state == "ready"
    assert statements.tables() == [
        ("UPDATE", "files_licensefile"),
        ("SELECT", "licenses_licenseversion"),
        ("UPDATE", "files_licensefile"),
        ("WITH", "federation_streamcounter"),
    ]
    stored = LicenseFile.objects.get(pk=second)
    assert (stored.state, stored.attempts, stored.seal_id) == ("ready", 1, row.seal.pk)
    lic = License.objects.get(pk=stored.license_id)
    assert stored.identifier == lic.identifier
    # and a ready row costs one statement and is left as it is
    with connection.execute_wrapper(again := Statements()):
        assert signing.license_file_render(file_id=second).rendered_at == stored.rendered_at
    assert again.tables() == [("UPDATE", "files_licensefile"), ("SELECT", "files_licensefile")]
    assert LicenseFile.objects.get(pk=second).attempts == 1


def test_active_keys_are_kept_and_a_rotation_here_is_seen_at_once(
    issuer_agency, pki, keys_kept, django_assert_num_queries
):
    # given: this process has read the seal and the token key once
    seal = keystore.seal_current(agency=issuer_agency)
    token = keystore.token_key_current()
    # when / then: read again without a query
    with django_assert_num_queries(0):
        assert keystore.seal_current(agency=issuer_agency).pk == seal.pk
        assert keystore.token_key_current().pk == token.pk
    # when: both rotate in this process
    new_seal = keystore.seal_rotate(agency=issuer_agency)
    new_token = keystore.token_key_rotate()
    # then: the successors are used at once
    assert keystore.seal_current(agency=issuer_agency).pk == new_seal.pk != seal.pk
    assert keystore.token_key_current().pk == new_token.pk != token.pk


def test_a_rotation_elsewhere_is_seen_once_the_copy_expires(issuer_agency, pki, settings):
    # given: a one-second copy of the seal
    settings.FILES_KEY_CACHE_SECONDS = 1
    keystore.forget_current_keys()
    old = keystore.seal_current(agency=issuer_agency)
    # when: another process rotates it (rows written without this process's services)
    SigningKey.objects.filter(pk=old.pk).update(active=False, retired_at=timezone.now())
    new = keystore.seal_create(agency=issuer_agency)
    # then: the old one until the copy expires, the new one after
    assert keystore.seal_current(agency=issuer_agency).pk == old.pk
    time.sleep(1.1)
    assert keystore.seal_current(agency=issuer_agency).pk == new.pk
    keystore.forget_current_keys()


def test_without_a_ttl_every_file_reads_the_keys(issuer_agency, pki, settings):
    settings.FILES_KEY_CACHE_SECONDS = 0
    old = keystore.seal_current(agency=issuer_agency)
    SigningKey.objects.filter(pk=old.pk).update(active=False, retired_at=timezone.now())
    new = keystore.seal_create(agency=issuer_agency)
    assert keystore.seal_current(agency=issuer_agency).pk == new.pk


def test_a_seal_revoked_elsewhere_is_never_used_for_a_ready_file(
    issuer, issue_payload, issuer_agency, pki, keys_kept
):
    # given: this process holds the issuer's seal (one file sealed with it)
    issue(issuer, payload(issue_payload, 0))
    issue(issuer, payload(issue_payload, 1))
    first, second = LicenseFile.objects.order_by("pk").values_list("pk", flat=True)
    held = signing.license_file_render(file_id=first).seal
    # when: another process revokes it (the row written behind this process's back)
    SigningKey.objects.filter(pk=held.pk).update(
        revoked_at=timezone.now(), revocation_reason="私钥泄露", active=False
    )
    # then: the file it sealed is not marked ready; the row waits for its retry
    with pytest.raises(RetryableError) as refused:
        signing.license_file_render(file_id=second)
    assert refused.value.code == "file.seal_revoked"
    row = LicenseFile.objects.get(pk=second)
    assert (row.state, row.attempts, row.seal_id) == ("pending", 1, None)
    assert "RetryableError" in row.last_error
    # and the task's retry (with the claim its failed attempt left) seals it with a
    # successor, read afresh
    (again,) = render_pending(owned=True)
    assert again.state == "ready"
    assert again.seal.pk != held.pk
    assert SigningKey.objects.get(pk=again.seal.pk).revoked_at is None
    assert LicenseFile.objects.get(pk=second).attempts == 2
