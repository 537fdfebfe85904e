"""At the hub: the provincial management unit's supervisor reads the hub's audit trail (what
the hub operator changed), exports it, and is refused every change."""

import csv
import io

import pytest

from tests.support import make_uscc, make_user, token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(db):
    return token_client(make_user("fgw_supervisor", None, role="supervisor"))


def test_the_supervisor_reads_what_the_hub_operator_changed(admin, supervisor, issuer):
    # given: the hub operator registers a provincial agency
    code = make_uscc(dept="11", area="410000", body="00007001")
    body = {"code": code, "name": "河南省审计厅", "level": "province", "area_code": "410000"}
    assert admin.post("/api/v1/agencies/", body, format="json").status_code == 201
    # when
    listed = supervisor.get("/api/v1/audit/", {"action": "agency.create", "target_id": code})
    # then
    assert listed.status_code == 200
    [row] = listed.json()["results"]
    assert (row["username"], row["library_code"], row["after"]["level"]) == (
        "admin",
        "410000",
        "province",
    )
    exported = supervisor.get("/api/v1/audit/export.csv", {"target_id": code})
    text = b"".join(exported.streaming_content).decode("utf-8").lstrip("\ufeff")
    [_, line] = list(csv.reader(io.StringIO(text)))
    assert line[4] == "agency.create" and line[1].endswith("+08:00")
    # the supervisor changes nothing here, and issuer staff read no audit
    other = body | {"code": make_uscc(dept="11", area="410000", body="00007002")}
    refused = supervisor.post("/api/v1/agencies/", other, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission.library_admin_required"
    assert issuer.get("/api/v1/audit/").status_code == 403
