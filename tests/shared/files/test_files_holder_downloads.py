"""The holder portal's downloads (issues #14, #15): a holder signed in with a one-time code downloads
the signed PDF, OFD and archive package of their own licences, never another holder's, and every download is an
access record the holder then sees in their own access log."""

import io
import zipfile
from binascii import unhexlify

import pytest
from django.test import Client
from django_otp.oath import totp

from shared.access.models import AccessRecord
from shared.access.portal import holder_create
from tests.shared.access.conftest import (
    clean_access_log,  # noqa: F401  # a clean log per test
    issue,
)
from tests.shared.files.files_support import render_pending
from tests.support import make_uscc

pytestmark = pytest.mark.django_db
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


@pytest.fixture
def holder_client(db):
    holder_create(
        username="holder_yuzhong",
        password="Holder-12345",
        display_name="郑州豫中食品有限公司",
        holder_code=make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
        holder_code_type="001",
        totp_key=KEY,
    )
    client = Client()
    response = client.post(
        "/holder/login/",
        {
            "username": "holder_yuzhong",
            "password": "Holder-12345",
            "otp_token": f"{totp(unhexlify(KEY)):06d}",
        },
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def licences(issuer_user, license_type, pki):
    own = issue(issuer_user, license_type)
    other = issue(issuer_user, license_type, holder_body="MA3X7Y9B", number="JY2", name="另一家")
    render_pending()
    return own, other


def test_the_holder_downloads_the_pdf_of_their_licence_and_sees_the_download(
    holder_client, licences
):
    own, _ = licences
    # given: the portal links the licence's files
    home = holder_client.get("/holder/").content.decode()
    assert f"/holder/licences/{own.identifier}/file.pdf" in home
    # when
    response = holder_client.get(f"/holder/licences/{own.identifier}/file.pdf")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    record = AccessRecord.objects.get(operation=AccessRecord.Operation.DOWNLOAD)
    assert record.username == "holder_yuzhong"
    assert record.identifier == own.identifier
    assert record.outcome == AccessRecord.Outcome.ALLOWED
    assert record.detail["file"] == "file.pdf" and record.detail["by"] == "holder"
    log = holder_client.get("/holder/accesses/").content.decode()
    assert "下载" in log and "file.pdf" in log and "本人（持证人）" in log


def test_the_holder_downloads_the_ofd_of_their_licence(holder_client, licences):
    own, _ = licences
    response = holder_client.get(f"/holder/licences/{own.identifier}/file.ofd")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/ofd"
    assert response.content.startswith(b"PK")  # an OFD is a zip package
    assert AccessRecord.objects.filter(
        operation=AccessRecord.Operation.DOWNLOAD, detail__file="file.ofd"
    ).exists()


def test_the_holder_downloads_the_archive_package_of_their_licence(holder_client, licences):
    own, _ = licences
    # given: the portal links the archive package
    assert (
        f"/holder/licences/{own.identifier}/archive.zip"
        in holder_client.get("/holder/").content.decode()
    )
    # when
    response = holder_client.get(f"/holder/licences/{own.identifier}/archive.zip")
    # then: the package of the API's archive route, handed out as an attachment and recorded
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    names = zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    assert {"metadata.json", "metadata.xml", "manifest.json", "manifest.sig"} <= set(names)
    assert any(n.startswith("files/v001-original") for n in names)
    record = AccessRecord.objects.get(operation=AccessRecord.Operation.DOWNLOAD)
    assert (record.identifier, record.username) == (own.identifier, "holder_yuzhong")
    assert record.detail["file"] == "archive.zip" and record.detail["by"] == "holder"


@pytest.mark.parametrize("name", ["file.pdf", "file.ofd", "archive.zip"])
def test_another_holders_licence_is_404_and_nothing_is_recorded(holder_client, licences, name):
    _, other = licences
    # when
    response = holder_client.get(f"/holder/licences/{other.identifier}/{name}")
    # then
    assert response.status_code == 404
    assert "证照不存在" in response.content.decode()
    assert not AccessRecord.objects.filter(operation=AccessRecord.Operation.DOWNLOAD).exists()


def test_signed_out_the_download_asks_for_sign_in(licences):
    own, _ = licences
    response = Client().get(f"/holder/licences/{own.identifier}/file.pdf")
    assert response.status_code == 302 and response.url.startswith("/holder/login/")
    assert not AccessRecord.objects.filter(operation=AccessRecord.Operation.DOWNLOAD).exists()
