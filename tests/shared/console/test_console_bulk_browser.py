"""Bulk upload in a real headless Chromium: an issuer uploads a CSV with one bad row and watches
the progress bar (console/bulk.js polling the batch's status) reach 100 % with that row's error
reported. The batch is issued by a real Celery worker on the test's Redis broker, as in the
batch service's own tests."""

import pytest
from playwright.sync_api import expect

from shared.licenses.models import Batch, License
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.shared.console.test_console_bulk import bulk_csv
from tests.shared.licenses.test_licenses_batches import celery_worker  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_upload_a_bulk_file_and_watch_it_reach_100_percent(
    browser_page,
    celery_worker,  # noqa: F811
    issuer_user,
    license_type,
):
    enrol(issuer_user)
    page = browser_page()
    sign_in(page, "issuer_1", code_now())
    nav(page, "批量签发").click()
    page.get_by_label("证照类型").select_option(license_type.type_code)
    page.get_by_label("CSV 或 XLSX 文件").set_input_files(
        {"name": "rows.csv", "mimeType": "text/csv", "buffer": bulk_csv(6, bad_surface={3})}
    )
    # the page's script follows the batch through its JSON status view
    with page.expect_response(lambda r: r.url.endswith("/status/")) as polled:
        page.get_by_role("button", name="上传并签发").click()
    assert polled.value.ok and "percent" in polled.value.json()
    expect(page.get_by_role("heading", name="批量任务进度")).to_be_visible()
    expect(page.get_by_test_id("batch-percent")).to_have_text("100%", timeout=30_000)
    expect(page.locator("#batch-progress")).to_have_attribute("value", "100")
    expect(page.get_by_test_id("batch-failed")).to_have_text("1")
    expect(page.get_by_test_id("batch-state")).to_have_text("已完成")
    row = page.locator("#batch-errors tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("5")  # line 5 of the file: the header, then rows 0..3
    expect(row).to_contain_text("经营者名称")
    with page.expect_download() as download:
        page.get_by_role("link", name="下载错误报告（CSV）").click()
    assert "经营者名称" in download.value.path().read_text(encoding="utf-8-sig")
    assert Batch.objects.get().succeeded == 5
    assert License.objects.filter(mode="bulk").count() == 5
