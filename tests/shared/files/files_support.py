"""Helpers for the licence-file tests (imported by tests; conftest holds the fixtures)."""

import shutil
import subprocess
import time
from pathlib import Path

from shared.files import signing
from shared.files.models import LicenseFile


def render_pending(*, owned: bool = False) -> list[LicenseFile]:
    """Run the signing job for every pending row, as the worker would (same service); `owned`:
    as a task's retry, which takes again the claim its failed attempt left on the row."""
    rows = []
    for pk in (
        LicenseFile.objects.filter(state="pending").order_by("pk").values_list("pk", flat=True)
    ):
        rows.append(signing.license_file_render(file_id=pk, owned=owned))
    return rows


def issue(client, payload):
    response = client.post("/api/v1/licenses/", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def trust_ca_in_nss(folder: Path) -> str:
    """An NSS database that trusts every CA in this database (pdfsig trusts roots only so)."""
    from shared.files.models import SigningKey

    folder.mkdir(parents=True, exist_ok=True)
    for name in folder.glob("*"):
        if name.is_file():
            name.unlink()
    subprocess.run(["certutil", "-N", "-d", f"sql:{folder}", "--empty-password"], check=True)
    for i, key in enumerate(SigningKey.objects.filter(kind="ca")):
        pem = folder / f"ca{i}.pem"
        pem.write_text(key.certificate_pem)
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{folder}",
                "-n",
                f"ca{i}",
                "-t",
                "CT,C,C",
                "-i",
                str(pem),
            ],
            check=True,
        )
    return f"sql:{folder}"


def pdfsig(path: Path, nss: str) -> str:
    assert shutil.which("pdfsig"), "poppler-utils missing: run deploy/system-packages.sh"
    return subprocess.run(
        ["pdfsig", "-nssdir", nss, str(path)], capture_output=True, text=True, check=False
    ).stdout


def wait_ready(client, identifier, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/licenses/{identifier}/").json()
        if body["file"] and body["file"]["state"] in ("ready", "failed"):
            return body
        time.sleep(0.1)
    raise AssertionError(f"file not ready: {body['file']}")
