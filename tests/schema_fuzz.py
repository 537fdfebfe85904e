"""Schema fuzzing of a library's API v1 (DESIGN §8) with schemathesis, at either tier.

Every operation in the tier's own OpenAPI document (`/api/schema/`) is called in-process through
Django's WSGI application, as each role: anonymous, issuer staff, a second staff member of the
issuing agency (reviewer), consumer-agency staff and the library admin. No answer may be a 5xx
and every answer must match the document: status code, content type and body (4xx included,
which must be the one error shape `{"code", "message", "detail"}`).

The data is seeded once per module; every request runs in a savepoint that is rolled back, so a
fuzzed write (a revoked token, a retired type) never leaks into the next example and a failure
replays the same way. In the fuzzing phase, path parameters, filters and body fields are aimed at
the seeded objects about half the time, so requests get past the 404 into the code behind it.
"""

from collections import Counter
from contextlib import contextmanager
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

from shared.access.models import Grant
from shared.accounts import services as accounts
from shared.domain.status import Action
from shared.inspections.services import inspection_submit
from shared.licenses import batches, issuing
from shared.licenses import services as licenses
from shared.licenses.validation import Holder
from shared.reviews.services import review_create
from tests.support import SURFACE_SCHEMA, make_agency, make_type, make_uscc, make_user

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "issuer", "reviewer", "consumer", "library_admin"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/",
    APP,
    # The coverage phase alone is ~30 cases per operation and role (8,000+ per tier), far past
    # the time budget; the examples and fuzzing phases run.
    config=schemathesis.Config.from_dict(
        {
            "generation": {"deterministic": True, "database": "none"},
            "phases": {"coverage": {"enabled": False}},
        }
    ),
)
# The budget is spread over operations × roles, so the run stays within ~90 s as the API grows
# (~50 ms a request on this 2-core machine, most of it generating bodies): about 1,100 fuzzed
# requests per tier, at least 3 and at most 25 per operation and role (the examples phase adds
# the schema's own examples on top).
FUZZ_BUDGET = 1100
OPERATIONS = sum(1 for result in schema.get_all_operations() if result.ok() is not None)
MAX_EXAMPLES = max(3, min(25, FUZZ_BUDGET // max(1, OPERATIONS * len(ROLES))))

# What the fuzzer aims at, filled by the `headers` fixture: parameter or field name -> values.
TARGETS: dict[str, list] = {}
# Values any string path parameter may take besides real ones: PostgreSQL text cannot hold NUL.
TRICKY_PATH_VALUES = ["\x00", "a\x00b"]
STATS: Counter = Counter()


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def _aimed(value, *, names: dict[str, list]):
    """A strategy for `value` in which each known key may be swapped for a seeded value."""
    if isinstance(value, dict):
        parts = {}
        for key, item in value.items():
            inner = _aimed(item, names=names)
            known = names.get(key)
            parts[key] = st.one_of(inner, st.sampled_from(known)) if known else inner
        return st.fixed_dictionaries(parts)
    if isinstance(value, list) and value:
        return st.tuples(*(_aimed(item, names=names) for item in value)).map(list)
    return st.just(value)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    names = {name: [*TARGETS.get(name, []), *TRICKY_PATH_VALUES] for name in path_parameters}
    return _aimed(path_parameters, names=names)


@schema.hook
def flatmap_query(context, query):
    return _aimed(query, names=TARGETS)


@schema.hook
def flatmap_body(context, body):
    return _aimed(body, names=TARGETS)


def _issue(actor, license_type, number: str, *, days: int = 365):
    today = timezone.localdate()
    return issuing.license_issue(
        actor=actor,
        type_code=license_type.type_code,
        number=number,
        holder=Holder(**HOLDER),
        valid_from=today,
        valid_to=today + timedelta(days=days),
        mode="online",
        case_completed_at=timezone.now() - timedelta(minutes=5),
        matter_code="M0001",
        surface=dict(SURFACE),
    )


HOLDER = {
    "name": "郑州豫中食品有限公司",
    "code": make_uscc(dept="91", area="410100", body="MA3X7Y8L"),
    "code_type": "001",
}
SURFACE = {"经营者名称": "郑州豫中食品有限公司", "经营项目": "预包装食品销售"}


def _review(consumer_agency, consumer, license_type, lic):
    """An open review request of the consumer (with a grant for the type), with an attachment."""
    Grant.objects.create(
        agency=consumer_agency,
        license_type=license_type,
        matter_code="M0001",
        tier=Grant.Tier.CITY,
        valid_from=timezone.localdate(),
    )
    review = review_create(
        actor=consumer,
        identifier=lic.identifier,
        reason="经营项目与营业执照不一致",
        fields=["经营项目"],
        matter_code="M0001",
        use_cause="办理食品经营许可变更，核验原证",
        attachments=[("证明.pdf", b"%PDF-1.7\n%%EOF\n")],
    )
    return review, review.attachments.get()


def _seed() -> dict[str, dict[str, str]]:
    """Agencies, users with tokens, types in every state and licences in several; returns each
    role's headers and fills `TARGETS`."""
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

    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    token_ids = []
    for role, user in users.items():
        token, secret = accounts.token_issue(actor=None, user=user, name="fuzz")
        headers[role] = {"Authorization": f"Bearer {secret}"}
        token_ids.append(token.pk)

    plain = make_type(issuer, seq=1, requires_review=False)
    review = make_type(issuer, seq=2, requires_review=True)
    draft = make_type(issuer, seq=3, requires_review=False, publish=False)
    foreign = make_type(other, seq=4, requires_review=False)

    valid = _issue(issuer, plain, "JY1")
    suspended = _issue(issuer, plain, "JY2")
    licenses.license_act(
        actor=issuer, identifier=suspended.identifier, action=Action.suspend, reason="暂扣"
    )
    pledged = _issue(issuer, plain, "JY3")
    licenses.license_act(
        actor=issuer,
        identifier=pledged.identifier,
        action=Action.pledge,
        pledgee="中原银行",
        until=timezone.localdate() + timedelta(days=30),
    )
    revoked = _issue(issuer, plain, "JY4")
    licenses.license_act(
        actor=issuer, identifier=revoked.identifier, action=Action.revoke, reason="吊销"
    )
    amended = _issue(issuer, plain, "JY5")
    first_version = amended.identifier
    amended, _ = licenses.license_act(
        actor=issuer,
        identifier=amended.identifier,
        action=Action.amend,
        surface={"经营者名称": "郑州豫中食品股份有限公司"},
    )
    pending = _issue(issuer, review, "DY1")
    foreign_licence = _issue(other, foreign, "JT1")
    batch = batches.batch_create(
        actor=issuer, mode="bulk", items=[{"type_code": plain.type_code, "number": "PL1"}]
    )
    # 网络年检 (#12): a type whose window is the whole year, and a submission to decide.
    yearly = make_type(
        issuer,
        seq=5,
        requires_review=False,
        annual_inspection=True,
        inspection_window_start="01-01",
        inspection_window_end="12-31",
    )
    inspection = inspection_submit(
        actor=issuer,
        identifier=_issue(issuer, yearly, "NJ1").identifier,
        files=[("report.pdf", b"%PDF-1.7\n%%EOF\n")],
    )

    dispute, attachment = _review(consumer_agency, users["consumer"], plain, valid)

    TARGETS.clear()
    TARGETS.update(
        {
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
            "issuer_code": [issuer_agency.code, other_agency.code],
            "holder_code": [HOLDER["code"]],
            "holder": [dict(HOLDER)],
            "surface": [dict(SURFACE)],
            "surface_schema": [SURFACE_SCHEMA],
            "matter_code": ["M0001"],
            "username": ["issuer_1", "issuer_2", "issuer_admin", "consumer_1", "admin"],
            "batch_id": [str(batch.pk)],
            "inspection_id": [str(inspection.pk)],
            "token_id": token_ids,
            "review_id": [str(dispute.pk)],
            "attachment_id": [attachment.pk],
        }
    )
    return headers


@pytest.fixture(scope="module")
def headers(django_db_setup, django_db_blocker):
    """Seed once for the module, in a transaction rolled back at its end.

    Django's WSGI handler closes "old" connections when a request starts and ends; in-process
    that is the test's own connection, so (as Django's test client does) it is unhooked.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with django_db_blocker.unblock(), rolled_back():
            yield _seed()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
        TARGETS.clear()


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(request):
    """One line at the end: how many requests were generated, by phase and by status."""
    STATS.clear()
    yield
    if STATS:
        phases = Counter()
        statuses = Counter()
        for (phase, code), count in STATS.items():
            phases[phase] += count
            statuses[code] += count
        plugins = request.config.pluginmanager
        reporter = plugins.get_plugin("terminalreporter")
        capture = plugins.get_plugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write("\n")
                reporter.write_line(
                    f"schema fuzz ({request.module.__name__}): {sum(STATS.values())} requests, "
                    f"{OPERATIONS} operations x {len(ROLES)} roles, {MAX_EXAMPLES} fuzzed each; "
                    f"by phase {dict(sorted(phases.items()))}; "
                    f"by status {dict(sorted(statuses.items()))}"
                )


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    # Request bodies are large nested JSON, and pytest-django's per-test transaction is a
    # function-scoped fixture (harmless here: every example runs in its own savepoint).
    suppress_health_check=[
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.too_slow,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_api_never_errors_and_matches_its_schema(case, role, headers):
    with rolled_back():
        response = case.call_and_validate(headers=headers[role], checks=CHECKS)
    STATS[(case.meta.phase.name.value if case.meta else "unknown", response.status_code)] += 1
