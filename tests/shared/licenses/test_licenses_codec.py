"""One licence codec (`shared.licenses.codec`): the wire form is pinned, and every user of a
licence's columns (snapshots, apply, bulk apply, services, serializers) takes them from it.

The pinned digests were computed from the snapshots written by hand before the codec existed:
a node or hub of either age must read the other's envelopes, and the content digests and
reconciliation leaves computed over these values must not move.
"""

import json
from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.domain.canonical import canonical_json_of_data, sm3_hex
from shared.domain.status import UNRELEASED
from shared.federation import bulk_apply, digest_sql
from shared.federation.arrivals import arrival_values
from shared.federation.snapshots import event_snapshot, license_snapshot, version_snapshot
from shared.licenses import codec, records
from shared.licenses.api.serializers import (
    LicenseEventSerializer,
    LicenseSerializer,
    LicenseVersionSerializer,
)
from shared.licenses.models import License, LicenseEvent, LicenseVersion

IDENT = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"
CODE = "91410100MA3X7Y8L6U"


def _rows() -> tuple[License, LicenseVersion, LicenseEvent]:
    """A licence, its version and an event, in memory, with every kind of value set."""
    issuer = Agency(
        code="11410100000010010X",
        name="郑州市市场监督管理局",
        kind="issuer",
        level="city",
        area_code="410100",
        is_issuer=True,
        is_consumer=False,
    )
    license_type = LicenseType(type_code="11100000000013338W011", issuer=issuer)
    common = {
        "identifier": IDENT,
        "number": "豫食经 2026-0042",
        "holder_name": "郑州豫中食品有限公司",
        "holder_code_type": "001",
        "issue_date": date(2026, 1, 9),
        "valid_from": date(2026, 1, 10),
        "valid_to": None,
        "matter_code": "M0001",
        "surface": {"经营者名称": "豫中", "从业人数": 12},
    }
    lic = License(
        license_type=license_type,
        issuer=issuer,
        serial="20230000403",
        version=1,
        status="valid",
        pledged=True,
        pledgee="中原银行",
        pledge_until=date(2027, 3, 1),
        area_code="410100",
        mode="offline",
        case_completed_at=datetime(2026, 1, 9, 2, 3, 4, 567891, tzinfo=UTC),
        sync_deadline=date(2026, 1, 12),
        sync_deadline_provisional=False,
        content_digest="ab" * 32,
        library_code="410100",
        last_event_seq=3,
        **common,
    )
    lic.holder_code = CODE
    version = LicenseVersion(
        license=lic,
        version=1,
        previous_identifier="",
        content_digest="cd" * 32,
        created_at=datetime(2026, 1, 9, 2, 3, 5, 120000, tzinfo=UTC),
        **common,
    )
    version.holder_code = CODE
    event = LicenseEvent(
        license=lic,
        seq=3,
        action="pledge",
        from_status="valid",
        to_status="valid",
        version=1,
        identifier=IDENT,
        reason="贷款",
        data={"pledgee": "中原银行", "actor": "zhang"},
        actor_agency_code="11410100000010010X",
        created_at=datetime(2026, 1, 9, 2, 3, 6, tzinfo=UTC),
    )
    return lic, version, event


def _pins(snapshot: dict) -> tuple[str, str]:
    """The digest of the canonical form (what envelopes sign) and of the bytes as written in
    the snapshot's own key order (what a SQLite outbox sends)."""
    as_written = json.dumps(snapshot, ensure_ascii=False).encode()
    return sm3_hex(canonical_json_of_data(snapshot)), sm3_hex(as_written)


def test_the_snapshots_are_byte_identical_to_schema_1_as_written_by_hand():
    # given
    lic, version, event = _rows()
    # when / then
    assert _pins(license_snapshot(lic)) == (
        "b483f3231ea10b3144e937fc128bdd4da28d689fe31485e2fd139de7e2e96c64",
        "90cfbb034e56012c05b86dadbd4ba81b9b74db564cbe91d4162cc20cc0c8eb5a",
    )
    assert _pins(version_snapshot(version)) == (
        "2af5c3dddc60252ffca3203d00f54fc733469abfa32da7d013928a124516208a",
        "88d12d8d80f3d1a6681b8ce6148e232959f8bd7277f1cda3a5d053c44e6997b5",
    )
    assert _pins(event_snapshot(event)) == (
        "e144b70c877dae087f4171ccd8183d0090aabfc45226d17e60f04e78b99063cb",
        "66164de069744c2707210f8b4ba1a3caf5b27ef98d87dc69905b96506f47881a",
    )
    assert list(license_snapshot(lic))[:5] == [
        "identifier",
        "type_code",
        "issuer",
        "serial",
        "version",
    ]
    assert license_snapshot(lic)["case_completed_at"] == "2026-01-09T02:03:04.567Z"


def test_the_content_digest_is_unchanged():
    lic, _, _ = _rows()
    digest = records.version_digest(lic, lic.license_type, "1.2.prev")
    assert digest == "544e1bd36c0a15534e633bb3faae4cc813894f5ef5ae323a723b9a8760e08e63"


def test_a_snapshot_reads_back_to_the_columns_it_was_written_from():
    # given
    lic, version, event = _rows()
    # when
    fields = codec.license_fields(license_snapshot(lic))
    version_fields = codec.version_fields(version_snapshot(version))
    event_fields = codec.event_fields(event_snapshot(event))
    # then: every column the receiver writes, as the sender holds it (moments to the ms)
    assert fields.pop("case_completed_at") == datetime(2026, 1, 9, 2, 3, 4, 567000, tzinfo=UTC)
    assert fields == {name: getattr(lic, name) for name in fields}
    assert set(fields) == {c.name for c in codec.LICENSE} - {"serial", "case_completed_at"}
    assert version_fields == {name: getattr(version, name) for name in version_fields}
    assert "created_at" not in version_fields
    assert event_fields == {
        name: getattr(event, name) for name in event_fields if name != "created_at"
    }
    assert event_fields["data"] == {"pledgee": "中原银行", "actor": "zhang"}


def test_the_inspected_year_travels_only_when_set_and_reads_back_as_null_when_absent():
    """Added to schema 1 after it was pinned (`Column.optional`): a licence never inspected
    writes exactly the pinned snapshot, an older peer's snapshot reads as never inspected."""
    # given
    lic, _, _ = _rows()
    plain = license_snapshot(lic)
    # when
    lic.inspected_year = 2026
    inspected = license_snapshot(lic)
    # then
    assert "inspected_year" not in plain
    assert codec.license_fields(plain)["inspected_year"] is None
    assert list(inspected)[-1] == "inspected_year" and inspected["inspected_year"] == 2026
    assert {k: v for k, v in inspected.items() if k != "inspected_year"} == plain
    assert codec.license_fields(inspected)["inspected_year"] == 2026


def test_bulk_repair_overwrites_the_stored_columns_a_snapshot_carries():
    assert bulk_apply.REPAIRED_COLUMNS == [
        "identifier",
        "version",
        "number",
        "status",
        "pledged",
        "pledgee",
        "pledge_until",
        "holder_name",
        "holder_code_enc",
        "holder_code_digest",
        "holder_code_type",
        "issue_date",
        "valid_from",
        "valid_to",
        "area_code",
        "matter_code",
        "surface",
        "mode",
        "case_completed_at",
        "sync_deadline",
        "sync_deadline_provisional",
        "content_digest",
        "library_code",
        "last_event_seq",
        "inspected_year",
        "updated_at",
    ]


def test_the_api_shows_the_fields_it_showed_before_the_codec():
    from shared.access.api.serializers import SharedLicenseSerializer

    assert set(LicenseSerializer.Meta.fields) == {
        *("identifier", "version", "status", "status_label", "pledged", "pledgee"),
        *("pledge_until", "type_code", "type_name", "issuer_code", "issuer_name", "serial"),
        *("number", "holder", "issue_date", "valid_from", "valid_to", "area_code"),
        *("matter_code", "surface", "mode", "case_completed_at", "sync_deadline"),
        *("sync_deadline_provisional", "content_digest", "library_code", "allowed_actions"),
        *("file", "created_at", "updated_at"),
        "inspected_year",  # 网络年检 (issue #12): the issuer sees the year last inspected
    }
    assert set(SharedLicenseSerializer.Meta.fields) == {
        *("identifier", "version", "status", "status_label", "pledged", "type_code"),
        *("type_name", "issuer_code", "issuer_name", "number", "holder", "issue_date"),
        *("valid_from", "valid_to", "area_code", "surface", "content_digest", "library_code"),
    }
    assert set(LicenseVersionSerializer.Meta.fields) == {
        *("version", "identifier", "current", "number", "holder", "issue_date", "valid_from"),
        *("valid_to", "matter_code", "surface", "previous_identifier", "content_digest"),
        "created_at",
    }
    assert set(LicenseEventSerializer.Meta.fields) == {
        *("seq", "action", "action_label", "from_status", "to_status", "version"),
        *("identifier", "reason", "data", "actor", "actor_agency_code", "created_at"),
    }


def test_the_digest_sql_leaves_out_exactly_the_unreleased_statuses():
    listed = "(" + ", ".join(f"'{s}'" for s in sorted(UNRELEASED)) + ")"
    assert listed == "('pending', 'returned')"
    assert f"WHERE d.status NOT IN {listed}\n" in digest_sql.TRIGGER_SQL
    assert f"WHERE l.status NOT IN {listed} AND" in digest_sql.REBUILD_SQL


# --- the sync deadline: one rule at the issuing service and at the hub ---------------------


def _issue(client, payload):
    response = client.post("/api/v1/licenses/", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_a_legacy_licence_gets_the_five_working_day_deadline(issuer, issue_payload):
    # case completed on Friday 2026-01-09: five working days later is Friday 2026-01-16
    body = _issue(
        issuer, issue_payload(mode="legacy", case_completed_at="2026-01-09T10:00:00+08:00")
    )
    assert body["sync_deadline"] == "2026-01-16"
    assert body["sync_deadline_provisional"] is False


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["online", "offline", "bulk", "legacy"])
def test_the_hub_measures_an_arrival_against_the_deadline_the_issuer_recorded(
    mode, issuer, issue_payload
):
    # given: a licence issued late on a Friday evening, Beijing time
    body = _issue(issuer, issue_payload(mode=mode, case_completed_at="2026-01-09T23:30:00+08:00"))
    lic = License.objects.get(identifier=body["identifier"])
    # when: the hub's arrival rule measures it
    arrival = arrival_values(
        type_code=lic.license_type.type_code,
        issuer_code=lic.issuer.code,
        serial=lic.serial,
        library_code=lic.library_code,
        mode=lic.mode,
        case_completed_at=lic.case_completed_at,
        payload={},
        now=timezone.now(),
    )
    # then: the same day, to its end, local time (online: seconds, no day recorded)
    if mode == "online":
        assert lic.sync_deadline is None
        assert (arrival["deadline_at"] - lic.case_completed_at).total_seconds() == 60
    else:
        local = timezone.localtime(arrival["deadline_at"])
        assert local.date() == lic.sync_deadline
        assert (local.hour, local.minute, local.second) == (23, 59, 59)
    assert arrival["deadline_provisional"] is lic.sync_deadline_provisional
