"""While a holder-code key rotation runs both versions read, new values are written under the
new one, and a lookup by holder code finds rows under either digest; a retired version is
refused with a clear error, and retiring is refused while rows remain (nothing changed)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shared.access.portal import holder_create, holder_licenses
from shared.audit.models import AuditEntry
from shared.core.errors import ConflictError, PermanentError
from shared.core.holder_codes import HolderKeyRetiredError, holder_codes_equal, holder_keyring
from shared.crypto import holder_codes as cipher
from shared.holder_keys.models import HolderKeyRetirement, HolderKeyRotation
from shared.holder_keys.selectors import holder_key_rows_on
from shared.holder_keys.services import (
    holder_key_retire,
    holder_key_rotation_start,
    holder_key_rotation_step,
)
from shared.licenses.models import License, LicenseVersion
from tests.shared.holder_keys.conftest import holder_code

pytestmark = pytest.mark.django_db


def _rotate_here(run_id: int) -> HolderKeyRotation:
    """The worker's steps, in this process (the worker test runs them in a real worker)."""
    for _ in range(100):
        run = holder_key_rotation_step(run_id=run_id, batch_size=2)
        assert run is not None
        if run.state != HolderKeyRotation.State.RUNNING:
            return run
    raise AssertionError("the rotation did not end")


def test_lookups_find_rows_under_either_version_during_the_overlap(issuer, issue, add_new_key):
    # given: a licence and its holder's account written under version 1
    old_id = issue(issuer, 1)
    holder, _ = holder_create(
        username="holder1",
        password="Secret-12345",
        display_name="持证人",
        holder_code=holder_code(1),
        holder_code_type="001",
    )
    assert cipher.digest_version(holder.holder_code_digest) == 1
    # when: version 2 is configured and a second licence of the same holder is issued
    add_new_key()
    body = issuer.post(
        "/api/v1/licenses/",
        {**_payload_of(old_id), "number": "HK999999"},
        format="json",
    )
    assert body.status_code == 201, body.json()
    new = License.objects.get(identifier=body.json()["identifier"])
    old = License.objects.get(identifier=old_id)
    # then: the new one is under version 2, the old one still reads
    assert cipher.blob_version(new.holder_code_enc) == 2
    assert cipher.digest_version(new.holder_code_digest) == 2
    assert cipher.digest_version(old.holder_code_digest) == 1
    assert old.holder_code == new.holder_code == holder_code(1)
    # … and every lookup finds both
    listed = issuer.get("/api/v1/licenses/", {"holder_code": holder_code(1)}).json()
    assert sorted(r["identifier"] for r in listed["results"]) == sorted([old_id, new.identifier])
    assert set(holder_licenses(holder=holder).values_list("identifier", flat=True)) == {
        old_id,
        new.identifier,
    }
    assert holder_codes_equal(new, holder) and holder_codes_equal(old, holder)


def _payload_of(identifier: str) -> dict:
    lic = License.objects.get(identifier=identifier)
    return {
        "type_code": lic.license_type.type_code,
        "holder": {"name": lic.holder_name, "code": lic.holder_code, "code_type": "001"},
        "valid_from": lic.valid_from.isoformat(),
        "valid_to": lic.valid_to.isoformat(),
        "mode": "online",
        "case_completed_at": lic.case_completed_at.isoformat(),
        "matter_code": "M0001",
        "surface": lic.surface,
    }


def test_retiring_is_refused_while_rows_remain_and_nothing_changes(issuer, issue, add_new_key):
    # given: rows under version 1, version 2 configured, no rotation yet
    identifier = issue(issuer, 1)
    add_new_key()
    audits = AuditEntry.objects.count()
    # when
    with pytest.raises(ConflictError) as excinfo:
        holder_key_retire(version=1, reason="轮换")
    # then
    assert excinfo.value.code == "holder_key.rows_remain"
    assert excinfo.value.status_code == 409
    assert excinfo.value.detail["rows"] == {"licenses.license": 1, "licenses.licenseversion": 1}
    assert HolderKeyRetirement.objects.count() == 0
    assert AuditEntry.objects.count() == audits
    assert holder_keyring().readable == (2, 1)
    assert License.objects.get(identifier=identifier).holder_code == holder_code(1)


def test_the_current_and_an_unknown_version_cannot_be_retired(add_new_key):
    # given
    add_new_key()
    # when / then
    with pytest.raises(ConflictError) as current:
        holder_key_retire(version=2)
    with pytest.raises(PermanentError) as unknown:
        holder_key_retire(version=7)
    assert (current.value.code, current.value.status_code) == ("holder_key.retire_current", 409)
    assert (unknown.value.code, unknown.value.status_code) == ("holder_key.unknown_version", 400)
    assert HolderKeyRetirement.objects.count() == 0


def test_starting_twice_answers_the_same_run(issuer, issue, add_new_key):
    # given
    issue(issuer, 1)
    add_new_key()
    # when
    first, created = holder_key_rotation_start()
    second, created_again = holder_key_rotation_start()
    # then
    assert (created, created_again) == (True, False)
    assert first.pk == second.pk and HolderKeyRotation.objects.count() == 1
    assert (first.to_version, first.total, first.state) == (2, 2, "running")


def test_after_rotation_and_retirement_an_old_value_is_refused(issuer, issue, add_new_key):
    # given: three licences rotated to version 2 in steps of two rows
    ids = [issue(issuer, i) for i in range(3)]
    add_new_key()
    run, _ = holder_key_rotation_start()
    done = _rotate_here(run.pk)
    assert (done.state, done.rewritten, done.failed) == ("done", 6, 0)
    assert holder_key_rows_on(version=1) == {
        "licenses.license": 0,
        "licenses.licenseversion": 0,
        "accounts.user": 0,
        "watch.watch": 0,  # registered by shared.watch
    }
    # when: version 1 is retired, and a value under it turns up (restored from a backup)
    holder_key_retire(version=1, reason="轮换完成")
    legacy = cipher.holder_code_encrypt(holder_key_old_master(), holder_code(0))
    License.objects.filter(identifier=ids[0]).update(holder_code_enc=legacy)
    # then: it is refused with a clear error, in the API too (not a 500)
    with pytest.raises(HolderKeyRetiredError) as excinfo:
        _ = License.objects.get(identifier=ids[0]).holder_code
    assert excinfo.value.code == "holder_key.retired"
    assert "版本 1 已停用" in excinfo.value.message
    response = issuer.get(f"/api/v1/licenses/{ids[0]}/")
    assert response.status_code == 409
    assert response.json()["code"] == "holder_key.retired"
    # … while the rotated rows read, and lookups use version 2 only
    assert License.objects.get(identifier=ids[1]).holder_code == holder_code(1)
    assert LicenseVersion.objects.filter(license__identifier=ids[2]).get().holder_code == (
        holder_code(2)
    )
    assert holder_keyring().readable == (2,)
    listed = issuer.get("/api/v1/licenses/", {"holder_code": holder_code(1)}).json()
    assert [r["identifier"] for r in listed["results"]] == [ids[1]]


def holder_key_old_master() -> str:
    return holder_keyring().keys[1]


def test_the_command_shows_versions_and_refuses_an_early_retirement(issuer, issue, add_new_key):
    # given
    issue(issuer, 1)
    add_new_key()
    # when
    out = StringIO()
    call_command("holder_keys", "status", stdout=out)
    with pytest.raises(CommandError) as excinfo:
        call_command("holder_keys", "retire", "--version", "1")
    # then
    lines = out.getvalue().splitlines()
    assert lines[0] == "当前写入版本：2"
    assert lines[1] == (
        "版本 2：已配置；licenses.license 0，licenses.licenseversion 0，accounts.user 0，watch.watch 0"
    )
    assert lines[2] == (
        "版本 1：已配置；licenses.license 1，licenses.licenseversion 1，accounts.user 0，watch.watch 0"
    )
    assert "holder_key.rows_remain" in str(excinfo.value)
    assert HolderKeyRetirement.objects.count() == 0
