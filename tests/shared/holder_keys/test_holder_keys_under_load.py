"""Rotating the holder-code key under load (issue #14 item 6): a real Celery worker re-encrypts
every stored code in batches while other threads issue licences and look holders up; a process
with the old configuration writes an old-version value meanwhile. Afterwards every row reads
under the new version, every lookup finds its holder, and the old key is refused once retired."""

import threading
import time

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection, transaction

from municipal_node.celery import app
from shared.access.portal import holder_create, holder_licenses
from shared.core.holder_codes import HolderKeyRetiredError, holder_keyring
from shared.crypto import holder_codes as cipher
from shared.holder_keys.models import HolderKeyRotation
from shared.holder_keys.selectors import holder_key_rows_off
from shared.holder_keys.services import holder_key_retire, holder_key_rotation_start
from shared.licenses.models import License
from tests.shared.holder_keys.conftest import holder_code
from tests.support import token_client

pytestmark = pytest.mark.django_db(transaction=True)

SEEDED, HOLDERS, ISSUED_DURING = 60, 6, 20


@pytest.fixture
def worker():
    app.conf.broker_url = app.conf.broker_url or "redis://127.0.0.1:6379/15"
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    # The worker runs in a thread of this process: close its connection after each task, so
    # the test database can be dropped at the end.
    task_postrun.connect(_close_connection, dispatch_uid="holder-keys-test-close")
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", queues=["default"]) as w:
            yield w
    finally:
        task_postrun.disconnect(dispatch_uid="holder-keys-test-close")


def _close_connection(**kwargs):
    connection.close()


def _in_thread(work, errors):
    def run():
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _running(run_id: int) -> bool:
    return HolderKeyRotation.objects.filter(pk=run_id, state="running").exists()


def test_rotation_under_load_leaves_every_row_readable_and_found(
    issuer_user, issue, add_new_key, settings, request
):
    # given: licences and holder accounts under version 1, then version 2 configured
    client = token_client(issuer_user)
    codes = {issue(client, i): holder_code(i) for i in range(SEEDED)}
    holders = [
        holder_create(
            username=f"holder{i}",
            password="Secret-12345",
            display_name=f"持证人{i}",
            holder_code=holder_code(i),
            holder_code_type="001",
        )[0]
        for i in range(HOLDERS)
    ]
    add_new_key()
    settings.HOLDER_KEY_ROTATION_BATCH = 7
    assert holder_key_rows_off(version=2) == 2 * SEEDED + HOLDERS
    request.getfixturevalue("worker")
    errors: list[BaseException] = []
    issued: dict[str, str] = {}
    lookups = {"during": 0, "missed": []}
    started, finished = threading.Event(), threading.Event()

    def issue_more():
        own = token_client(issuer_user)
        started.wait(10)
        for i in range(SEEDED, SEEDED + ISSUED_DURING):
            issued[issue(own, i)] = holder_code(i)

    def look_up():
        own = token_client(issuer_user)
        started.wait(10)
        run_id = HolderKeyRotation.objects.get().pk
        n = 0
        while not finished.is_set() or n < SEEDED:
            identifier, code = list(codes.items())[n % SEEDED]
            found = own.get("/api/v1/licenses/", {"holder_code": code}).json()["results"]
            mine = holder_licenses(holder=holders[n % HOLDERS]).exists()
            if [r["identifier"] for r in found] != [identifier] or not mine:
                lookups["missed"].append(code)
            lookups["during"] += _running(run_id)
            n += 1

    def stale_writer():
        # A process still on the old configuration saves a row the run has passed already.
        started.wait(10)
        first = License.objects.order_by("pk").first()
        ring = cipher.HolderKeyring.single(holder_keyring().keys[1])
        while not finished.is_set():
            with transaction.atomic():
                run = HolderKeyRotation.objects.select_for_update().get()
                if run.state != "running":
                    raise AssertionError("the run ended before the stale write")
                if cipher.digest_version(License.objects.get(pk=first.pk).holder_code_digest) == 2:
                    License.objects.filter(pk=first.pk).update(
                        holder_code_enc=cipher.keyring_encrypt(ring, codes[first.identifier]),
                        holder_code_digest=cipher.keyring_digest(ring, codes[first.identifier]),
                    )
                    return
            time.sleep(0.005)
        raise AssertionError("the stale write never happened")

    # when: the rotation starts while the threads issue, look up, and write stale values
    threads = [_in_thread(w, errors) for w in (issue_more, look_up, stale_writer)]
    began = time.monotonic()
    run, created = holder_key_rotation_start()
    started.set()
    deadline = time.monotonic() + 180
    while _running(run.pk) and time.monotonic() < deadline:
        time.sleep(0.1)
    seconds = time.monotonic() - began
    finished.set()
    for thread in threads:
        thread.join(60)
    run.refresh_from_db()

    # then: the run ended, nothing was missed while it ran, nothing is left under version 1
    assert not errors, errors
    assert created and run.state == "done", (run.state, run.last_error)
    print(
        f"\nrotation: {run.rewritten} rows in {seconds:.2f} s over {run.passes} passes, "
        f"{lookups['during']} lookups and {len(issued)} issues meanwhile"
    )
    assert run.passes >= 2  # the stale value was caught by a later pass
    assert run.failed == 0 and lookups["missed"] == []
    assert lookups["during"] > 0
    assert holder_key_rows_off(version=2) == 0
    for identifier, code in {**codes, **issued}.items():
        lic = License.objects.get(identifier=identifier)
        assert cipher.blob_version(lic.holder_code_enc) == 2
        assert lic.holder_code == code
        assert lic.versions.get().holder_code == code
        found = client.get("/api/v1/licenses/", {"holder_code": code}).json()["results"]
        assert [r["identifier"] for r in found] == [identifier]
    for i, holder in enumerate(holders):
        holder.refresh_from_db()
        assert cipher.digest_version(holder.holder_code_digest) == 2
        assert holder.holder_code == holder_code(i)
        assert list(holder_licenses(holder=holder).values_list("holder_name", flat=True)) == [
            f"轮换企业{i}"
        ]
    # … and once version 1 is retired, a value under it is refused
    old_master = holder_keyring().keys[1]
    holder_key_retire(version=1, reason="轮换完成")
    License.objects.filter(pk=lic.pk).update(
        holder_code_enc=cipher.holder_code_encrypt(old_master, code)
    )
    with pytest.raises(HolderKeyRetiredError):
        _ = License.objects.get(pk=lic.pk).holder_code
    assert holder_keyring().readable == (2,)
