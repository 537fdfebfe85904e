"""The holder portal's downloads at the hub (issue #14 item 2): the hub holds a city's licence
as the PDF fetched from the node, so a holder signed in there downloads that PDF of their own
licence (an access record), is told where OFD and the archive package are, and gets a 404 with
nothing recorded for another holder's licence; a company's staff acting for it under a
delegation download its PDF there too, recorded with both identities."""

from binascii import unhexlify

import pytest
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp

from provincial_hub.aggregation.models import RemoteFile
from shared.access.models import AccessRecord
from shared.access.portal import holder_create
from shared.accounts.models import User
from shared.delegation.services import delegation_grant
from shared.domain.canonical import sm3_hex
from shared.files import storage
from shared.licenses.models import License
from tests.shared.access.conftest import issue
from tests.support import make_citizen_id, make_uscc

pytestmark = pytest.mark.django_db
KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex
PDF = b"%PDF-1.7\n" + "郑州市签章文件".encode() * 100 + b"\n%%EOF\n"


def city_licence(issuer_user, license_type, **extra):
    """A licence the hub holds for 郑州 with its PDF fetched (as `remote_file_fetch` leaves it)."""
    lic = issue(issuer_user, license_type, **extra)
    License.objects.filter(pk=lic.pk).update(library_code="410100")
    path = f"remote/410100/{sm3_hex(PDF)}.pdf"
    storage.write_atomic(path, PDF)
    RemoteFile.objects.create(
        node="410100",
        identifier=lic.identifier,
        version=1,
        variant="original",
        sm3=sm3_hex(PDF),
        size=len(PDF),
        state=RemoteFile.State.READY,
        path=path,
        fetched_at=timezone.now(),
    )
    return License.objects.get(pk=lic.pk)


@pytest.fixture
def licences(settings, tmp_path, issuer_user, license_type):
    settings.FILES_ROOT = str(tmp_path / "files")
    own = city_licence(issuer_user, license_type)
    other = city_licence(
        issuer_user, license_type, holder_body="MA3X7Y9B", number="JY2", name="另一家"
    )
    return own, other


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


def test_at_the_hub_the_holder_downloads_the_citys_pdf_of_their_licence(holder_client, licences):
    own, _ = licences
    # when
    response = holder_client.get(f"/holder/licences/{own.identifier}/file.pdf")
    # then
    assert response.status_code == 200
    assert response.content == PDF
    record = AccessRecord.objects.get(operation=AccessRecord.Operation.DOWNLOAD)
    assert (record.identifier, record.username, record.source_library) == (
        own.identifier,
        "holder_yuzhong",
        "410100",
    )
    assert record.detail["file"] == "file.pdf" and record.detail["by"] == "holder"


@pytest.mark.parametrize(
    ("name", "said"),
    [("file.ofd", "OFD 文件请向来源库获取"), ("archive.zip", "归档包请向来源库获取")],
)
def test_at_the_hub_ofd_and_archive_of_a_city_licence_are_404_and_say_where(
    holder_client, licences, name, said
):
    own, _ = licences
    # when
    response = holder_client.get(f"/holder/licences/{own.identifier}/{name}")
    # then
    assert response.status_code == 404
    assert said in response.content.decode()
    assert not AccessRecord.objects.filter(operation=AccessRecord.Operation.DOWNLOAD).exists()


@pytest.mark.parametrize("name", ["file.pdf", "file.ofd", "archive.zip"])
def test_at_the_hub_another_holders_licence_is_404_and_nothing_is_recorded(
    holder_client, licences, name
):
    _, other = licences
    # when
    response = holder_client.get(f"/holder/licences/{other.identifier}/{name}")
    # then
    assert response.status_code == 404
    assert "证照不存在" in response.content.decode()
    assert not AccessRecord.objects.filter(operation=AccessRecord.Operation.DOWNLOAD).exists()


def test_at_the_hub_staff_acting_for_the_company_download_its_pdf(holder_client, licences):
    own, _ = licences
    # given: the company delegated to its staff member, who signs in at the hub and switches
    holder_create(
        username="zhang_wei",
        password="Holder-12345",
        display_name="张伟",
        holder_code=make_citizen_id(area="410102", birth="19900307", seq="123"),
        holder_code_type="111",
        totp_key=KEY,
    )
    company = User.objects.get(username="holder_yuzhong")
    delegation = delegation_grant(principal=company, delegate_username="zhang_wei", days=30)
    staff = Client()
    staff.post(
        "/holder/login/",
        {
            "username": "zhang_wei",
            "password": "Holder-12345",
            "otp_token": f"{totp(unhexlify(KEY)):06d}",
        },
    )
    assert staff.post("/holder/act/", {"delegation": str(delegation.pk)}).status_code == 302
    # when
    response = staff.get(f"/holder/licences/{own.identifier}/file.pdf")
    # then
    assert response.status_code == 200 and response.content == PDF
    record = AccessRecord.objects.get(operation=AccessRecord.Operation.DOWNLOAD)
    assert record.username == "zhang_wei"
    assert (record.detail["by"], record.detail["on_behalf_of"]) == ("delegate", "holder_yuzhong")
