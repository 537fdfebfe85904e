"""Schema fuzzing of the city node's API v1 (DESIGN §8) with schemathesis.

Every operation of the node's own OpenAPI document (`/api/schema/`) is called in-process through
Django's WSGI application, as each role: anonymous, issuer staff, a second staff member of the
issuing agency (reviewer), consumer-agency staff and the library admin. No answer may be a 5xx,
and every answer must match the document: its status code, content type and body (4xx included,
which must be the one error shape `{"code", "message", "detail"}`).

The data is seeded once per module; each generated request runs in a savepoint that is rolled
back, so a fuzzed write (a revoked token, a retired type) never leaks into the next example and a
failing example replays the same way. Path parameters are aimed at the seeded objects half of
the time, so the fuzzing reaches the code behind the 404.
"""

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import hypothesis.strategies as st
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.accounts import services as accounts
from shared.domain.status import Action
from shared.licenses import batches
from shared.licenses import services as licenses
from tests.support import make_agency, make_type, make_uscc, make_user

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "issuer", "reviewer", "consumer", "library_admin"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 12  # per operation and role, fuzzing phase; examples and coverage add their own

APP = get_wsgi_application()
CONFIG = schemathesis.Config.from_dict(
    {"generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"}}
)
schema = schemathesis.openapi.from_wsgi("/api/schema/", APP, config=CONFIG)


@dataclass(slots=True)
class World:
    """What the fuzzer can aim at: real path values and each role's request headers."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    path_values: dict[str, list[str]] = field(default_factory=dict)
    type_code: str = ""


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _issue(actor, license_type, number: str, *, holder_body: str, days: int = 365):
    today = timezone.localdate()
    return licenses.license_issue(
        actor=actor,
        type_code=license_type.type_code,
        number=number,
        holder=licenses.Holder(
            name="郑州豫中食品有限公司",
            code=make_uscc(dept="91", area="410100", body=holder_body),
            code_type="001",
        ),
        valid_from=today,
        valid_to=today + timedelta(days=days),
        mode="online",
        case_completed_at=timezone.now() - timedelta(minutes=5),
        matter_code="M0001",
        surface={"经营者名称": "郑州豫中食品有限公司", "经营项目": "预包装食品销售"},
    )


def _seed() -> World:
    issuer_agency = make_agency("市场监督管理局", body="00001001", is_issuer=True)
    other_agency = make_agency("交通运输局", body="00001002", is_issuer=True)
    consumer_agency = make_agency(
        "政务服务中心", body="00002001", is_consumer=True, kind="service_centre"
    )
    users = {
        "issuer": make_user("issuer_1", issuer_agency),
        "reviewer": make_user("issuer_2", issuer_agency),
        "consumer": make_user("consumer_1", consumer_agency),
        "library_admin": make_user("admin", None, role="library_admin"),
    }
    make_user("issuer_admin", issuer_agency, role="agency_admin")
    other = make_user("other_1", other_agency)
    issuer = users["issuer"]

    world = World(headers={"anonymous": {}})
    token_ids = []
    for role, user in users.items():
        token, secret = accounts.token_issue(actor=None, user=user, name="fuzz")
        world.headers[role] = {"Authorization": f"Bearer {secret}"}
        token_ids.append(str(token.pk))

    plain = make_type(issuer, seq=1, requires_review=False)
    review = make_type(issuer, seq=2, requires_review=True)
    draft = make_type(issuer, seq=3, requires_review=False, publish=False)
    foreign = make_type(other, seq=4, requires_review=False)
    world.type_code = plain.type_code

    valid = _issue(issuer, plain, "JY1", holder_body="MA3X7Y8L")
    suspended = _issue(issuer, plain, "JY2", holder_body="MA3X7Y8L")
    licenses.license_act(
        actor=issuer, identifier=suspended.identifier, action=Action.suspend, reason="暂扣"
    )
    pledged = _issue(issuer, plain, "JY3", holder_body="MA3X7Y8L")
    licenses.license_act(
        actor=issuer,
        identifier=pledged.identifier,
        action=Action.pledge,
        pledgee="中原银行",
        until=timezone.localdate() + timedelta(days=30),
    )
    revoked = _issue(issuer, plain, "JY4", holder_body="MA3X7Y8L")
    licenses.license_act(
        actor=issuer, identifier=revoked.identifier, action=Action.revoke, reason="吊销"
    )
    amended = _issue(issuer, plain, "JY5", holder_body="MA3X7Y8L")
    first_version = amended.identifier
    amended, _ = licenses.license_act(
        actor=issuer,
        identifier=amended.identifier,
        action=Action.amend,
        surface={"经营者名称": "郑州豫中食品股份有限公司"},
    )
    pending = _issue(issuer, review, "DY1", holder_body="MA3X7Y8L")
    foreign_licence = _issue(other, foreign, "JT1", holder_body="MA3X7Y8L")
    batch = batches.batch_create(
        actor=issuer,
        mode="bulk",
        items=[{"type_code": plain.type_code, "number": "PL1", "holder": {}}],
    )

    world.path_values = {
        "identifier": [
            valid.identifier,
            suspended.identifier,
            pledged.identifier,
            revoked.identifier,
            first_version,
            amended.identifier,
            pending.identifier,
            foreign_licence.identifier,
        ],
        "type_code": [plain.type_code, review.type_code, draft.type_code, foreign.type_code],
        "code": [issuer_agency.code, other_agency.code, consumer_agency.code],
        "batch_id": [str(batch.pk)],
        "token_id": token_ids,
    }
    return world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Seed once for the module, inside a transaction rolled back at its end.

    The WSGI handler closes "old" connections when a request starts and finishes; in-process
    that would be the test's own connection, so (as Django's test client does) it is unhooked.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), rolled_back():
            yield _seed()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def aim_at_seeded_objects(case, data, world: World) -> None:
    """Half the time, name a seeded object in each path parameter instead of a random value."""
    for name in sorted(case.path_parameters or {}):
        known = world.path_values.get(name)
        if known and data.draw(st.booleans(), label=f"seeded {name}"):
            case.path_parameters[name] = data.draw(st.sampled_from(known), label=name)


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@schema.given(data=st.data())
@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_errors_and_matches_its_schema(case, data, role, world):
    aim_at_seeded_objects(case, data, world)
    with rolled_back():
        case.call_and_validate(headers=world.headers[role], checks=CHECKS)
