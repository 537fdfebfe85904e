"""The PKCS#11 signer with SoftHSM2 (keys that never leave the token), and PAdES B-T with a
local RFC 3161 time-stamping service, both checked by pdfsig and by our verifier."""

import os
import subprocess

import pytest

from shared.crypto.pdfverify import verify_pdf
from shared.crypto.pki import certificate_fingerprint, certificate_from_pem
from shared.crypto.tsa import LocalTsa
from shared.files import keystore
from shared.files.models import LicenseFile, SigningKey
from shared.files.verification import trust_roots
from tests.shared.files.files_support import issue, pdfsig, render_pending, trust_ca_in_nss

pytestmark = pytest.mark.django_db
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"


@pytest.fixture
def softhsm(tmp_path, settings):
    assert os.path.exists(SOFTHSM), "softhsm2 missing: run deploy/system-packages.sh"
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            "elicense",
            "--pin",
            "123456",
            "--so-pin",
            "654321",
        ],
        check=True,
        capture_output=True,
    )
    settings.FILES_PKCS11_LIB = SOFTHSM
    settings.FILES_PKCS11_TOKEN = "elicense"
    settings.FILES_PKCS11_PIN = "123456"
    keystore.reset_caches()
    yield
    keystore.pkcs11_close()
    keystore.reset_caches()


def test_pkcs11_seal_signs_and_verifies(
    softhsm, issuer, issue_payload, issuer_agency, pki, tmp_path
):
    from django.core.management import call_command

    call_command("pki", "hsm-seal", "--agency", issuer_agency.code, "--label", "seal-1")
    seal = SigningKey.objects.get(kind="seal", agency=issuer_agency, active=True)
    assert (seal.backend, seal.private_key_pem) == ("pkcs11", "")
    ident = issue(issuer, issue_payload())["identifier"]
    [row] = render_pending()
    assert (row.state, row.seal_id) == ("ready", seal.pk), row.last_error
    pdf = tmp_path / "hsm.pdf"
    pdf.write_bytes(issuer.get(f"/api/v1/licenses/{ident}/file.pdf").content)
    check = verify_pdf(pdf.read_bytes(), trust_roots=trust_roots())
    assert check.code == 0
    assert check.signer_fingerprint == certificate_fingerprint(
        certificate_from_pem(seal.certificate_pem)
    )
    report = pdfsig(pdf, trust_ca_in_nss(tmp_path / "nss"))
    assert "Signature is Valid." in report and "Total document signed" in report, report


def test_pades_b_t_with_a_local_tsa(issuer, issue_payload, pki, settings, tmp_path):
    tsa_key_row, tsa_key = keystore.tsa_create()
    ca = certificate_from_pem(keystore.ca_active().certificate_pem)
    with LocalTsa(
        key=tsa_key, cert=certificate_from_pem(tsa_key_row.certificate_pem), chain=[ca]
    ) as tsa:
        settings.FILES_TSA_URL = tsa.url
        keystore.reset_caches()
        ident = issue(issuer, issue_payload())["identifier"]
        [row] = render_pending()
    assert (row.state, row.timestamped) == ("ready", True), row.last_error
    data = issuer.get(f"/api/v1/licenses/{ident}/file.pdf").content
    check = verify_pdf(data, trust_roots=trust_roots())
    assert (check.code, check.timestamped) == (0, True)
    pdf = tmp_path / "bt.pdf"
    pdf.write_bytes(data)
    report = pdfsig(pdf, trust_ca_in_nss(tmp_path / "nss"))
    assert "Signature is Valid." in report and "Total document signed" in report, report
    assert LicenseFile.objects.get().timestamped


def test_tsa_down_leaves_the_row_pending_with_its_error(issuer, issue_payload, pki, settings):
    settings.FILES_TSA_URL = "http://127.0.0.1:9/tsa"  # discard port: nothing listens
    keystore.reset_caches()
    issue(issuer, issue_payload())
    row = LicenseFile.objects.get()
    from shared.files import signing

    with pytest.raises(Exception):  # noqa: B017 - any failure: the row must record it
        signing.license_file_render(file_id=row.pk)
    row.refresh_from_db()
    assert (row.state, row.attempts) == ("pending", 1)
    assert row.last_error
