"""Issue #10 item 9, files: the signed page shows every character of the data or is not made,
and `verify` answers any input with a Chinese line and exit status 1, never a traceback."""

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from shared.catalog.models import LicenseType
from shared.files import keystore
from shared.files.layout import (
    PAGE_H_MM,
    PAGE_W_MM,
    LicenseDocument,
    UnprintableError,
    page_check,
)
from shared.files.models import LicenseFile
from shared.files.typeface import register_font
from shared.files.verification import trust_list_build
from tests.shared.files.files_support import issue, render_pending

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
PURPOSE = {"matter_code": "M0001", "use_cause": "办理食品经营许可变更，核验营业执照"}
SCOPE = "预包装食品销售（含冷藏冷冻食品）、散装食品销售（含冷藏冷冻食品）、保健食品销售、" * 4


# --- the page layout -------------------------------------------------------------------------


def _doc(fields, **extra):
    base = {
        "title": "食品经营许可证",
        "identifier": "1.2.156.3005.2.11100000000000131E001.114101000000100145.20260000001.001.Q",
        "number": "JY14101000012345",
        "fields": fields,
        "issuer_name": "郑州市市场监督管理局",
        "issue_date": "2026年12月04日",
        "qr_url": "HTTP://TESTSERVER/V/ABC",
    }
    return LicenseDocument(**{**base, **extra})


def _lines(plan, source):
    return [p for p in plan if p.source == source and p.role != "label"]


def test_a_long_value_is_wrapped_whole_inside_its_box():
    # given: a long Chinese value and a long Latin one with spaces
    latin = "Retail of prepackaged food including refrigerated and frozen food, " * 4
    doc = _doc([("持证主体", "郑州豫中食品有限公司"), ("经营项目", SCOPE), ("英文", latin)])
    # when
    plan = page_check(doc, font_path=keystore.font_path())
    # then: nothing dropped, every line inside the page's text area, Latin words kept whole
    font = register_font(keystore.font_path())
    from reportlab.pdfbase.pdfmetrics import stringWidth

    for source, value in (("经营项目", SCOPE), ("英文", latin)):
        lines = _lines(plan, source)
        assert len(lines) > 1
        assert "".join(line.text for line in lines) == value
        for line in lines:
            right = line.x + stringWidth(line.text, font, line.size) * 25.4 / 72
            assert right <= PAGE_W_MM - 22 + 1e-6, (source, line.text)
            assert line.baseline < PAGE_H_MM - 82
    assert all(line.text.endswith(" ") for line in _lines(plan, "英文")[:-1])
    # the rows below a wrapped value move down instead of overprinting it
    value_lines = _lines(plan, "经营项目")
    next_row = _lines(plan, "英文")[0]
    assert next_row.baseline > value_lines[-1].baseline


def test_a_page_that_cannot_hold_the_text_is_refused():
    doc = _doc([("经营范围", "食品销售" * 1500)])
    with pytest.raises(UnprintableError) as caught:
        page_check(doc, font_path=keystore.font_path())
    assert caught.value.code == "file.text_overflow"
    assert caught.value.detail["field"] == "经营范围"


def test_missing_glyphs_are_named_with_where_they_are():
    doc = _doc([("持证主体", "郑州刘䶮食品")], annotation=["加注件：仅供“𠀀”使用"])
    with pytest.raises(UnprintableError) as caught:
        page_check(doc, font_path=keystore.font_path())
    assert caught.value.code == "file.missing_glyphs"
    assert caught.value.detail["characters"] == [
        {"character": "䶮", "codepoint": "U+4DAE", "fields": ["持证主体"]},
        {"character": "𠀀", "codepoint": "U+20000", "fields": ["加注件说明"]},
    ]


# --- the signed file -------------------------------------------------------------------------


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    assert shutil.which("pdftotext"), "poppler-utils missing: run deploy/system-packages.sh"
    path = tmp_path / "licence.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()
    return "".join(out.split())


def test_the_signed_pdf_carries_a_long_value_whole(issuer, issue_payload, pki, tmp_path):
    # given: a 经营项目 far longer than the 44 characters the page used to keep
    body = issue(
        issuer, issue_payload(surface={"经营者名称": "郑州豫中食品有限公司", "经营项目": SCOPE})
    )
    # when
    render_pending()
    pdf = issuer.get(f"/api/v1/licenses/{body['identifier']}/file.pdf").content
    # then
    assert "".join(SCOPE.split()) in _pdf_text(pdf, tmp_path)


def _ofd_text(ofd: bytes) -> str:
    """Every TextCode of the OFD's pages, in drawing order, without white space."""
    import re

    with zipfile.ZipFile(io.BytesIO(ofd)) as package:
        pages = [n for n in package.namelist() if n.endswith("Content.xml")]
        xml = "".join(package.read(n).decode() for n in pages)
    return "".join("".join(re.findall(r"<ofd:TextCode[^>]*>([^<]*)</ofd:TextCode>", xml)).split())


def test_the_ofd_carries_a_long_value_whole_as_the_pdf(issuer, issue_payload, pki):
    # given: the same long 经营项目 (the OFD used to cut every value at 44 characters)
    body = issue(
        issuer, issue_payload(surface={"经营者名称": "郑州豫中食品有限公司", "经营项目": SCOPE})
    )
    render_pending()
    # when
    response = issuer.get(f"/api/v1/licenses/{body['identifier']}/file.ofd")
    # then
    assert response.status_code == 200
    assert "".join(SCOPE.split()) in _ofd_text(b"".join(response))


def test_the_render_refuses_rather_than_print_a_missing_glyph(issuer, issue_payload, pki):
    # given: a licence issued while its type's title printed; the catalogue then changes it
    body = issue(issuer, issue_payload())
    LicenseType.objects.filter(type_code=body["type_code"]).update(
        template={"title": "食品经营许可证䶮"}
    )
    # when
    with pytest.raises(UnprintableError):
        render_pending()
    # then: failed for good at the first attempt, with the reason, and no file
    row = LicenseFile.objects.get(identifier=body["identifier"])
    assert (row.state, row.attempts, row.path) == (LicenseFile.State.FAILED, 1, "")
    assert "U+4DAE" in row.last_error


# --- verify: a corrupt OFD -------------------------------------------------------------------


def _corrupt_ofd(ofd: bytes) -> bytes:
    """The OFD with its page's deflate stream made invalid (block type 3 is reserved), so
    reading that entry raises zlib.error, not BadZipFile."""
    with zipfile.ZipFile(io.BytesIO(ofd)) as archive:
        info = archive.getinfo("Doc_0/Pages/Page_0/Content.xml")
    assert info.compress_type == zipfile.ZIP_DEFLATED
    data = bytearray(ofd)
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    data[info.header_offset + 30 + name_len + extra_len] = 0xFF
    return bytes(data)


@pytest.fixture
def corrupt_ofd(issuer, issued):
    response = issuer.get(f"/api/v1/licenses/{issued['identifier']}/file.ofd")
    assert response.status_code == 200, response.content[:300]
    return _corrupt_ofd(response.content)


def test_a_corrupt_ofd_upload_is_a_damaged_file_not_a_500(consumer, corrupt_ofd):
    upload = SimpleUploadedFile("licence.ofd", corrupt_ofd, content_type="application/ofd")
    response = consumer.post(
        "/api/v1/share/verify-file/", {**PURPOSE, "file": upload}, format="multipart"
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["file_result"]["code"] == 2


def run_verify(*args):
    """`verify` as called in-process: (exit status, stdout, stderr); any other exception
    than the command's own exit fails the test."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify", *args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exc:
        status = exc.code
    return status, out.getvalue(), err.getvalue()


def test_verify_a_corrupt_ofd(corrupt_ofd, tmp_path):
    path = tmp_path / "licence.ofd"
    path.write_bytes(corrupt_ofd)
    status, out, _ = run_verify(str(path))
    assert status == 1
    assert "file_result: 2 文件校验失败" in out
    assert "reason: damaged" in out


# --- verify: tokens and unusable input -------------------------------------------------------


def test_verify_a_bare_token_longer_than_a_file_name(issued):
    # given: the trust list's own signature, a token of this library but no licence's
    token = trust_list_build()["signature"]["token"]
    assert len(token) > 255  # too long for a file name: the command took it for one
    # when
    status, out, err = run_verify(token)
    # then
    assert (status, out) == (1, "")
    assert err.strip() == "验证失败：该令牌签名有效，但不是证照二维码令牌"
    # and a long string that is no token at all
    status, out, _ = run_verify("A" * 300)
    assert status == 1
    assert "outcome: forged" in out


def test_verify_a_licence_token_bare_and_as_url(issuer, issued):
    response = issuer.post(f"/api/v1/licenses/{issued['identifier']}/qr-token/")
    assert response.status_code == 201, response.json()
    for target in (response.json()["token"], response.json()["url"]):
        status, out, _ = run_verify(target)
        assert status == 0, out
        assert "outcome: valid" in out
        assert f"identifier: {issued['identifier']}" in out


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: [str(d / "missing.pdf")], "文件不存在："),
        (lambda d: [str(d)], "是目录，请给出 PDF 或 OFD 文件"),
        (lambda d: [" "], "请给出要验证的"),
        (lambda d: ["AAAA", "--trust-list", str(d / "missing.json")], "信任列表文件不存在"),
        (lambda d: ["AAAA", "--trust-list", str(d / "bad.json")], "信任列表文件不是有效的 JSON"),
        (lambda d: ["AAAA", "--trust-list", str(d / "list.json")], "信任列表无效"),
    ],
)
def test_unusable_input_is_one_chinese_line_and_exit_1(pki, tmp_path, make_args, message):
    (tmp_path / "bad.json").write_text("{{", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2]", encoding="utf-8")
    status, out, err = run_verify(*make_args(tmp_path))
    assert status == 1
    assert out == ""
    assert err.startswith("验证失败：") and message in err, err


def test_verify_json_output_for_unusable_input(tmp_path):
    status, out, _ = run_verify(str(tmp_path / "missing.ofd"), "--json")
    assert status == 1
    assert json.loads(out) == {
        "valid": False,
        "outcome": "unusable",
        "error": "verify.file_not_found",
        "message": f"文件不存在：{tmp_path / 'missing.ofd'}",
    }


# Runs `manage.py node verify TARGET --trust-list FILE` for each target in one interpreter (the
# real entry point: argument parsing, logging configuration, exit status), one line per run.
CLI = """
import contextlib, io, json, sys
import manage
trust, targets = sys.argv[1], sys.argv[2:]
for target in targets:
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["manage.py", "node", "verify", target, "--trust-list", trust]
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            manage.main()
            status = 0
        except SystemExit as exc:
            status = exc.code
    print(json.dumps({"status": status, "out": out.getvalue(), "err": err.getvalue()}))
"""


def test_the_real_command_line_prints_no_traceback(issued, corrupt_ofd, tmp_path):
    # given: what a clerk has offline: the trust list, a bare token, a damaged OFD, a PDF
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps(trust_list_build(), ensure_ascii=False), encoding="utf-8")
    ofd = tmp_path / "corrupt.ofd"
    ofd.write_bytes(corrupt_ofd)
    pdf = tmp_path / "damaged.pdf"
    pdf.write_bytes(b"%PDF-1.7\n%garbage\n")
    database = settings.DATABASES["default"]["NAME"]
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path / "var"),
        # nothing here may need a database: point at one that does not exist
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}_none",
    }
    # when
    done = subprocess.run(
        [sys.executable, "-c", CLI, str(trust), "B" * 400, str(ofd), str(pdf)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # then
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    runs = [json.loads(line) for line in done.stdout.splitlines()]
    assert [run["status"] for run in runs] == [1, 1, 1]
    for run in runs:
        assert "Traceback" not in run["out"] + run["err"], run
        assert "valid: False" in run["out"]
    assert "outcome: forged" in runs[0]["out"]
    assert "reason: damaged" in runs[1]["out"]
    assert "file_result: 2 文件校验失败" in runs[2]["out"]
