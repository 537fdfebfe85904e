"""Fixtures for the access tests: grants, issued licences, a clean log per test.

Access records are written through their own connection whenever the caller is inside a
transaction (as every non-transactional test is), so they are committed for real: each test
starts by clearing the log tables through a committed connection of its own.
"""

from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from shared.access import ratelimit
from shared.access.models import Grant
from shared.licenses import issuing
from shared.licenses.validation import Holder
from tests.support import make_agency, make_uscc, make_user, token_client

MATTER = "M0001"
LOG_TABLES = [
    "access_accessrecord",
    "access_leafstub",
    "access_checkpoint",
    "access_witness",
    "access_chainhead",
]


def wipe_log() -> None:
    connection = connections.create_connection("default")
    try:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # A superuser may switch triggers off; the application's role may not.
                cursor.execute("BEGIN")
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute("DELETE FROM access_leafstub")
                cursor.execute("DELETE FROM access_purgerun")
                for table in LOG_TABLES:
                    cursor.execute(f"DELETE FROM {table}")
                cursor.execute("COMMIT")
    finally:
        connection.close()


@pytest.fixture(autouse=True)
def clean_access_log(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        wipe_log()
    ratelimit.rate_reset()
    yield
    ratelimit.rate_reset()


def grant(agency, license_type, matter=MATTER, **extra):
    return Grant.objects.create(
        agency=agency,
        license_type=license_type,
        matter_code=matter,
        tier=Grant.Tier.CITY,
        valid_from=timezone.localdate(),
        **extra,
    )


def issue(
    actor, license_type, *, holder_body="MA3X7Y8L", number="JY1", name="郑州豫中食品有限公司"
):
    today = timezone.localdate()
    return issuing.license_issue(
        actor=actor,
        type_code=license_type.type_code,
        number=number,
        holder=Holder(
            name=name, code=make_uscc(dept="91", area="410100", body=holder_body), code_type="001"
        ),
        valid_from=today,
        valid_to=today + timedelta(days=365),
        mode="online",
        case_completed_at=timezone.now() - timedelta(minutes=5),
        matter_code=MATTER,
        surface={"经营者名称": name, "经营项目": "预包装食品销售"},
    )


@pytest.fixture
def granted_consumer(consumer_agency, license_type):
    grant(consumer_agency, license_type)
    return consumer_agency


@pytest.fixture
def licence(issuer_user, license_type):
    return issue(issuer_user, license_type)


@pytest.fixture
def holder_code():
    return make_uscc(dept="91", area="410100", body="MA3X7Y8L")


@pytest.fixture
def query_body(holder_code):
    def build(**overrides):
        body = {
            "holder": {"code": holder_code, "code_type": "001"},
            "matter_code": MATTER,
            "use_cause": "办理食品经营许可变更，核验原证",
        }
        body.update(overrides)
        return body

    return build


@pytest.fixture
def second_consumer(db):
    agency = make_agency("不动产登记中心", body="00002002", is_consumer=True)
    return token_client(make_user("consumer_2", agency))
