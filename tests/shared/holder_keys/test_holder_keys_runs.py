"""The rotation run as an operator sees it: started by the command, a row with progress, a
tampered value counted and reported (the others still rotated), a lost run queued again."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from shared.core.errors import ConflictError
from shared.core.holder_codes import holder_keyring
from shared.crypto import holder_codes as cipher
from shared.holder_keys.models import HolderKeyRetirement, HolderKeyRotation
from shared.holder_keys.services import (
    holder_key_retire,
    holder_key_rotation_stalled,
    holder_key_rotation_step,
)
from shared.licenses.models import License
from tests.shared.holder_keys.conftest import holder_code

pytestmark = pytest.mark.django_db


def test_the_command_starts_one_run_and_answers_it_again(issuer, issue, add_new_key):
    # given
    issue(issuer, 1)
    add_new_key()
    # when
    first, second = StringIO(), StringIO()
    call_command("holder_keys", "rotate", stdout=first)
    call_command("holder_keys", "rotate", stdout=second)
    # then
    run = HolderKeyRotation.objects.get()
    assert first.getvalue().splitlines() == [
        f"已开始：轮换 #{run.pk}",
        f"#{run.pk} 至版本 2 进行中：已重新加密 0/2，无法读取 0，第 1 遍",
    ]
    assert second.getvalue().splitlines()[0] == f"已在进行：轮换 #{run.pk}"


def test_a_tampered_value_fails_the_run_with_its_count_and_the_rest_is_rotated(
    issuer, issue, add_new_key
):
    # given: two licences, one of whose ciphertext was altered
    ids = [issue(issuer, i) for i in range(2)]
    bad = License.objects.get(identifier=ids[0])
    blob = bytearray(bad.holder_code_enc)
    blob[-1] ^= 1
    License.objects.filter(pk=bad.pk).update(holder_code_enc=bytes(blob))
    add_new_key()
    run = HolderKeyRotation.objects.create(to_version=2, total=4)
    # when
    for _ in range(10):
        run = holder_key_rotation_step(run_id=run.pk, batch_size=10)
        if run.state != "running":
            break
    # then
    assert (run.state, run.rewritten, run.failed, run.passes) == ("failed", 3, 1, 2)
    assert run.last_error == "1 条持证主体代码无法读取"
    assert cipher.digest_version(License.objects.get(pk=bad.pk).holder_code_digest) == 1
    good = License.objects.get(identifier=ids[1])
    assert cipher.blob_version(good.holder_code_enc) == 2
    assert good.holder_code == holder_code(1)


def test_a_run_nobody_advanced_is_queued_again_by_beat():
    # given
    stalled = HolderKeyRotation.objects.create(to_version=2)
    HolderKeyRotation.objects.filter(pk=stalled.pk).update(
        updated_at=timezone.now() - timedelta(minutes=3)
    )
    HolderKeyRotation.objects.create(to_version=3, state="done")
    # when
    ids = holder_key_rotation_stalled()
    # then
    assert ids == [stalled.pk]


def test_a_second_step_of_a_finished_run_does_nothing(add_new_key):
    # given
    add_new_key()
    run = HolderKeyRotation.objects.create(to_version=2, state="done")
    # when
    again = holder_key_rotation_step(run_id=run.pk)
    # then
    assert again is None
    run.refresh_from_db()
    assert (run.state, run.rewritten) == ("done", 0)


def test_retiring_while_a_rotation_runs_is_refused(add_new_key):
    # given: no row under version 1, but a run still going
    add_new_key()
    HolderKeyRotation.objects.create(to_version=2)
    # when
    with pytest.raises(ConflictError) as excinfo:
        holder_key_retire(version=1)
    # then
    assert excinfo.value.code == "holder_key.rotation_running"
    assert HolderKeyRetirement.objects.count() == 0
    assert holder_keyring().readable == (2, 1)


def test_a_run_for_a_version_no_longer_current_fails_and_changes_nothing(
    issuer, issue, add_new_key, settings
):
    # given: a run towards version 2, then version 3 configured in front before it started
    identifier = issue(issuer, 1)
    add_new_key()
    run = HolderKeyRotation.objects.create(to_version=2, total=2)
    settings.HOLDER_CODE_KEYS = "3:" + "t" * 40 + "," + settings.HOLDER_CODE_KEYS
    # when
    run = holder_key_rotation_step(run_id=run.pk)
    # then
    assert (run.state, run.rewritten, run.last_error) == ("failed", 0, "当前密钥版本已改为 3")
    lic = License.objects.get(identifier=identifier)
    assert cipher.digest_version(lic.holder_code_digest) == 1
    assert lic.holder_code == holder_code(1)
