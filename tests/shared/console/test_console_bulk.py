"""Bulk upload in the console: the CSV template, a bad file refused in Chinese, a malformed row
refused with its report, a batch with a refused row and its per-row error report, and who may
see what. The batch job itself is run by `batch_process` here (the browser test runs it on a
real Celery worker)."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from shared.licenses.batches import batch_process
from shared.licenses.models import Batch, License
from tests.console_support import console_client
from tests.support import make_uscc

pytestmark = pytest.mark.django_db
HEADER = "证照编号,持证主体名称,持证主体代码类型,持证主体代码,有效期起始,有效期截止,办结时间,事项编码,经营者名称,经营项目,从业人数"


def bulk_csv(rows: int, *, bad_surface=(), bad_date=()) -> bytes:
    today = timezone.localdate()
    done = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")
    lines = [HEADER]
    for i in range(rows):
        code = make_uscc(dept="91", area="410100", body=f"MB{i:06d}")
        start = "2026-02-30" if i in bad_date else today.isoformat()
        name = "" if i in bad_surface else f"批量企业{i}"
        end = (today + timedelta(days=365)).isoformat()
        lines.append(
            f"PL{i:05d},批量企业{i},001,{code},{start},{end},{done},M0001,{name},食品销售,{i}"
        )
    return ("\n".join(lines) + "\n").encode()


def upload(client, license_type, body: bytes, name="rows.csv"):
    file = io.BytesIO(body)
    file.name = name
    return client.post("/console/bulk/", {"type_code": license_type.type_code, "file": file})


def report_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_template_has_the_fixed_columns_and_the_surface_fields(issuer_console, license_type):
    response = issuer_console.get(f"/console/bulk/template/{license_type.type_code}/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    header = report_rows(response)[0]
    assert header[:4] == ["证照编号", "持证主体名称", "持证主体代码类型", "持证主体代码"]
    assert {"经营者名称", "经营项目", "从业人数"} <= set(header)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "不是 CSV"),
        (b"PK\x03\x04rest-of-a-zip", "不是有效的 XLSX 工作簿"),
        ("姓名,年龄\n张三,30\n".encode(), "文件缺少列：证照编号"),
        (HEADER.encode() + b"\n", "没有数据行"),
        ("证照编号".encode("utf-16"), "编码无法识别"),
    ],
)
def test_a_bad_file_is_refused_in_chinese(issuer_console, license_type, body, message):
    response = upload(issuer_console, license_type, body)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Batch.objects.count() == 0


def test_a_malformed_row_refuses_the_file_with_its_report(issuer_console, license_type):
    response = upload(issuer_console, license_type, bulk_csv(3, bad_date={1}))
    assert response.status_code == 400
    assert "1 行格式错误，未签发任何记录" in response.content.decode()
    assert Batch.objects.count() == 0
    report = report_rows(issuer_console.get("/console/bulk/report/"))
    assert report[0] == ["行号", "字段", "错误信息"]
    assert [r[:2] for r in report[1:]] == [["3", "有效期起始"]]  # the header is line 1


def test_an_xlsx_template_filled_in_is_uploaded(issuer_console, license_type):
    from openpyxl import load_workbook

    response = issuer_console.get(
        f"/console/bulk/template/{license_type.type_code}/", {"format": "xlsx"}
    )
    assert response.status_code == 200 and response.content.startswith(b"PK")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert sheet.cell(row=1, column=4).value == "持证主体代码"
    assert sheet.cell(row=3, column=4).number_format == "@"  # text: Excel keeps the code
    column = {cell.value: cell.column for cell in sheet[1]}  # the template's own order
    lines = bulk_csv(3, bad_surface={1}).decode().splitlines()[1:]
    for row, line in enumerate(lines, start=2):  # over the example row
        values: list = line.split(",")
        values[-1] = int(values[-1])  # a number typed as a number
        for header, value in zip(HEADER.split(","), values, strict=True):
            sheet.cell(row=row, column=column[header]).value = value
    sheet.cell(row=2, column=column["有效期起始"]).value = timezone.localdate()  # as a date
    out = io.BytesIO()
    book.save(out)
    response = upload(issuer_console, license_type, out.getvalue(), name="rows.xlsx")
    assert response.status_code == 302, response.content.decode()[:300]
    batch = Batch.objects.get()
    batch_process(batch_id=str(batch.pk))
    status = issuer_console.get(f"/console/bulk/{batch.pk}/status/").json()
    assert (status["succeeded"], status["failed"]) == (2, 1)
    assert [e["row"] for e in status["errors"]] == [3]  # the sheet's row 3


def test_a_gb18030_file_from_excel_is_read(issuer_console, license_type):
    response = upload(issuer_console, license_type, bulk_csv(2).decode().encode("gb18030"))
    assert response.status_code == 302
    assert Batch.objects.get().total == 2


def test_a_batch_reports_each_refused_row_by_line_field_and_message(issuer_console, license_type):
    response = upload(issuer_console, license_type, bulk_csv(4, bad_surface={2}))
    assert response.status_code == 302
    batch = Batch.objects.get()
    assert response["Location"] == f"/console/bulk/{batch.pk}/"
    batch_process(batch_id=str(batch.pk))
    status = issuer_console.get(f"/console/bulk/{batch.pk}/status/").json()
    assert (status["percent"], status["succeeded"], status["failed"]) == (100, 3, 1)
    assert status["state"] == "done"
    assert [(e["row"], e["field"]) for e in status["errors"]] == [(4, "照面信息")]
    assert License.objects.filter(mode="bulk").count() == 3
    report = report_rows(issuer_console.get(f"/console/bulk/{batch.pk}/report/"))
    assert report[1][:2] == ["4", "照面信息"] and "经营者名称" in report[1][2]
    page = issuer_console.get(f"/console/bulk/{batch.pk}/").content.decode()
    assert 'value="100"' in page and "经营者名称" in page


def test_surface_values_keep_their_schema_types(issuer_console, license_type):
    upload(issuer_console, license_type, bulk_csv(1))
    batch_process(batch_id=str(Batch.objects.get().pk))
    assert License.objects.get().surface["从业人数"] == 0


def test_only_issuers_and_only_their_own_batches(
    issuer_console, consumer_console, other_issuer_user, license_type
):
    upload(issuer_console, license_type, bulk_csv(1))
    batch = Batch.objects.get()
    assert consumer_console.get("/console/bulk/").status_code == 403
    other = console_client(other_issuer_user)
    for url in ("", "status/", "report/"):
        assert other.get(f"/console/bulk/{batch.pk}/{url}").status_code == 404
    assert other.get("/console/bulk/not-a-uuid/").status_code == 404
    assert other.get(f"/console/bulk/template/{license_type.type_code}/").status_code == 404
    assert upload(other, license_type, bulk_csv(1)).status_code == 400
    assert Batch.objects.count() == 1
