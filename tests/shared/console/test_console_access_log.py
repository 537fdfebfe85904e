"""库管理 → 用证记录链: the library administrator sees the latest checkpoint, asks for a
verification of the whole log (a worker's job), watches its progress (the page reloads itself
while it runs) and reads its result; nobody else may."""

import pytest

from shared.access import log
from shared.access.log import verify_runs
from shared.access.models import AccessRecord, VerifyRun
from tests.console_support import console_client
from tests.shared.access.test_access_log import append, superuser_sql

pytestmark = pytest.mark.django_db

URL = "/console/admin/access-log/"


@pytest.fixture
def admin_console(library_admin):
    return console_client(library_admin)


def test_the_administrator_asks_watches_and_reads_the_result(
    admin_console, consumer_user, django_capture_on_commit_callbacks
):
    append(consumer_user, 4)
    log.checkpoint_create()
    page = admin_console.get(URL).content.decode()
    assert "尚未校验过" in page and 'data-testid="tree-size">4<' in page
    # when: asked (the worker's task is queued on commit)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = admin_console.post(f"{URL}verify/", follow=True)
    # then: queued, the page says so and reloads itself
    assert len(queued) == 1
    page = answer.content.decode()
    assert "已发起校验" in page and 'http-equiv="refresh"' in page
    assert 'data-testid="verify-state">排队中<' in page
    # a second ask while it is under way starts nothing
    again = admin_console.post(f"{URL}verify/", follow=True).content.decode()
    assert "已有一次校验在进行中" in again and VerifyRun.objects.count() == 1
    # when the worker has run it
    verify_runs.verify_run(run_id=VerifyRun.objects.get().pk)
    page = admin_console.get(URL).content.decode()
    assert 'http-equiv="refresh"' not in page
    assert "通过" in page and 'data-testid="verify-checked">4<' in page


def test_problems_found_are_listed(admin_console, consumer_user):
    append(consumer_user, 3)
    log.checkpoint_create()
    record = AccessRecord.objects.get(seq=1)
    superuser_sql("UPDATE access_accessrecord SET use_cause = %s WHERE id = %s", ["改", record.pk])
    run, _ = verify_runs.verify_request(requested_by="admin")
    verify_runs.verify_run(run_id=run.pk)
    page = admin_console.get(URL).content.decode()
    assert "发现问题" in page and "content_changed" in page and "seq=1" in page


def test_only_the_library_administrator(consumer_user, issuer_user):
    for user in (consumer_user, issuer_user):
        client = console_client(user)
        assert client.get(URL).status_code == 403
        assert client.post(f"{URL}verify/").status_code == 403
    assert not VerifyRun.objects.exists()
