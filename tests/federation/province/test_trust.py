"""Province-wide trust over real processes (issue #13, item 1): 郑州's keys go up to the hub
(`trust.keys`), the hub signs one provincial list, 洛阳 fetches and checks it; a 郑州 QR code
then verifies at 洛阳 (status from 郑州's signed status list) and at the hub, a forged one
fails at every library, and a 郑州 seal revoked since before a file was sealed makes that file
fail everywhere with the reason. Runs on the folder's one started province (conftest.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import requests

from shared.crypto.qr_tokens import qr_token_header
from tests.federation.fedlib import auth
from tests.federation.harness import wait_until

PURPOSE = {"matter_code": "M0001", "use_cause": "跨市核验"}


@pytest.fixture(scope="module")
def zhengzhou_file(fed):
    """A ready file of one of 郑州's own licences: its identifier, QR token and seal."""
    node = fed["410100"]
    wait_until(
        lambda: node.sql(
            "SELECT count(*) FROM files_licensefile f JOIN licenses_license l "
            "ON l.id = f.license_id WHERE f.state = 'ready' AND l.library_code = '410100'"
        )[0][0],
        timeout=300,  # the first render at a node just started next to two others
        message="a 郑州 file is ready",
    )
    identifier, qr_url, seal = node.sql(
        "SELECT f.identifier, f.qr_url, k.key_id FROM files_licensefile f "
        "JOIN licenses_license l ON l.id = f.license_id JOIN files_signingkey k ON k.id = f.seal_id "
        "WHERE f.state = 'ready' AND l.library_code = '410100' AND f.variant = 'original' "
        "ORDER BY f.id LIMIT 1"
    )[0]
    return {"identifier": identifier, "token": qr_url.rsplit("/", 1)[1], "seal": seal}


def public_verify(lib, token):
    response = requests.get(f"{lib.url}/api/v1/public/verify/{token}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def hub_holds_material(fed, code):
    rows = fed["hub"].sql(
        "SELECT material->>'status_list_base' FROM aggregation_librarytrust WHERE library = %s",
        (code,),
    )
    return bool(rows) and rows[0][0] == fed[code].url


def lists_key(lib, prefix):
    """Whether `lib`'s provincial list holds a 郑州 token key starting with `prefix`."""
    return lib.sql(
        "SELECT count(*) FROM files_provincialtrustlist, "
        "jsonb_array_elements(document->'libraries') lib, "
        "jsonb_array_elements(lib->'token_keys') k "
        "WHERE lib->>'library' = '410100' AND k->>'kid' LIKE %s",
        (prefix + "%",),
    )[0][0]


def test_a_zhengzhou_qr_code_verifies_at_luoyang_and_at_the_hub(fed, zhengzhou_file):
    hub, luoyang = fed["hub"], fed["410300"]
    prefix = qr_token_header(zhengzhou_file["token"])["kid"]
    wait_until(
        lambda: hub_holds_material(fed, "410100"), timeout=180, message="郑州's keys reach the hub"
    )
    wait_until(
        lambda: lists_key(hub, prefix), timeout=180, message="the hub lists 郑州's token key"
    )
    token = zhengzhou_file["token"]
    at_luoyang = public_verify(luoyang, token)
    assert at_luoyang["outcome"] == "valid", (
        at_luoyang,
        lists_key(luoyang, prefix),
        luoyang.sql("SELECT version, last_error FROM files_provincialtrustlist"),
        luoyang.log("web")[-3000:],
    )
    assert at_luoyang["info_result"]["code"] == 0
    assert at_luoyang["signed_by_library"] == "410100"
    assert at_luoyang["remote"]["identifier"] == zhengzhou_file["identifier"]
    page = requests.get(f"{luoyang.url}/v/{token}", timeout=30)
    assert page.status_code == 200 and 'data-outcome="valid"' in page.text
    wait_until(
        lambda: hub.count("identifier = %s", (zhengzhou_file["identifier"],)) == 1, timeout=180
    )
    at_hub = public_verify(hub, token)
    assert at_hub["outcome"] == "valid", at_hub
    assert at_hub["license"]["identifier"] == zhengzhou_file["identifier"]
    assert at_hub["signed_by_library"] == "410100"


def test_a_forged_code_fails_everywhere(fed, zhengzhou_file):
    token = zhengzhou_file["token"]
    forged = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")  # the signature altered
    for name in ("hub", "410100", "410300"):
        body = public_verify(fed[name], forged)
        assert body["outcome"] == "forged", (name, body)
        assert body["info_result"]["code"] == 6


def verify_file(lib, pdf):
    admin = lib.credentials()["admin"]["token"]
    response = requests.post(
        f"{lib.url}/api/v1/share/verify-file/",
        data=PURPOSE,
        files={"file": ("f.pdf", pdf, "application/pdf")},
        headers=auth(admin),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_revoked_seal_fails_with_the_reason_everywhere(fed, zhengzhou_file):
    node, hub, luoyang = fed["410100"], fed["hub"], fed["410300"]
    issuer = node.credentials()["issuer"]["token"]
    pdf = requests.get(
        f"{node.url}/api/v1/licenses/{zhengzhou_file['identifier']}/file.pdf",
        headers=auth(issuer),
        timeout=30,
    ).content
    # before: 郑州's seal is trusted at 洛阳 through the provincial list
    assert verify_file(luoyang, pdf)["file_result"]["code"] == 0
    # when: 郑州 revokes the seal, compromised since an hour before the file was sealed
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    node.manage(
        "pki",
        "revoke-seal",
        "--key-id",
        zhengzhou_file["seal"],
        "--reason",
        "印章私钥泄露",
        "--since",
        since,
    )

    def revoked_at(lib):
        return lib.sql(
            "SELECT count(*) FROM files_provincialtrustlist, "
            "jsonb_array_elements(document->'libraries') lib, "
            "jsonb_array_elements(lib->'revocations') r WHERE r->>'key_id' = %s",
            (zhengzhou_file["seal"],),
        )[0][0]

    wait_until(lambda: revoked_at(hub), timeout=180, message="the revocation reaches the hub")
    wait_until(lambda: revoked_at(luoyang), timeout=180, message="洛阳 fetches the new list")
    # then: the file fails at every library, with the reason
    for lib in (node, hub, luoyang):
        body = verify_file(lib, pdf)
        assert body["file_result"]["code"] == 1, (lib.name, body)
        assert body["reason"] == "seal_revoked"
        assert "印章私钥泄露" in body["seal_note"]
