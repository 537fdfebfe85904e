"""The purpose-bound query (art. 21): one holder's licences of the granted types, here or —
at a city node with a hub — through the hub (`shared.access.federated`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from shared.access import federated, ratelimit
from shared.access.models import AccessRecord
from shared.access.selectors import grants_active
from shared.access.services import _authorize, access_record, caller_check, rate_check
from shared.access.sources import sector_query
from shared.catalog.models import LicenseType
from shared.core.holder_codes import holder_code_digests, holder_code_normalise
from shared.domain.status import UNRELEASED
from shared.licenses import lookups
from shared.licenses.models import License

QUERY_LIMIT = 100
Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryAnswer:
    request_id: uuid.UUID
    licenses: list[License]
    sector: list[dict] = field(default_factory=list)
    unavailable: list[str] = field(default_factory=list)
    # Answered by the hub for a city node (`shared.access.federated`): its licences, as the
    # hub's API shows them, and its code.
    remote: list[dict] = field(default_factory=list)
    forwarded_to: str = ""


def share_query(
    *,
    user: Any,
    holder_code: str,
    holder_code_type: str,
    matter_code: str,
    use_cause: str,
    type_code: str = "",
    scope: str = "auto",
) -> QueryAnswer:
    """The released licences of one holder, of the types the agency holds grants for this
    matter; at the hub this covers every city's aggregated licences too (`library_code` says
    where each came from). No grant → `access.no_grant`; an unknown type is answered the same
    way as a type without a grant, and a holder with nothing the same as one with nothing
    granted, so guessing learns nothing.

    At a city node with a hub (`shared.access.federated`), a consumer's query that finds nothing
    here — or that asks `scope="province"` — is forwarded to the hub, which answers from the
    province's aggregate under its own grant rule; both libraries record it."""
    rate_check(user=user, operation=Operation.QUERY, matter_code=matter_code, use_cause=use_cause)
    license_type = None
    if type_code:
        license_type = LicenseType.objects.filter(type_code=type_code).first()
        if license_type is None:
            license_type = LicenseType(pk=-1)  # no grant can name it: refused like any other
    said = {
        "user": user,
        "matter_code": matter_code,
        "use_cause": use_cause,
        "operation": Operation.QUERY,
        "holder_code": holder_code,
        "holder_code_type": holder_code_type,
    }
    if federated.forwarder() is not None and federated.may_forward(user):
        caller_check(**said)
        grants = list(
            grants_active(
                agency=user.agency, matter_code=matter_code.strip(), license_type=license_type
            )
        )
        if scope != "province" and grants:
            answer = query_answer(grants=grants, said=said, forward_if_empty=True)
            if answer is not None:
                return answer
        return _query_forwarded(said=said, type_code=type_code)
    grants = _authorize(license_type=license_type, **said)
    return _answered(query_answer(grants=grants, said=said))


def _answered(answer: QueryAnswer | None) -> QueryAnswer:
    assert answer is not None  # only `forward_if_empty` answers None
    return answer


def query_answer(
    *,
    grants: list[Any],
    said: dict[str, Any],
    detail: dict[str, Any] | None = None,
    forward_if_empty: bool = False,
) -> QueryAnswer | None:
    """Find, record and answer a query the caller is entitled to: the licences of the types of
    `grants` (anything with `license_type_id` and `license_type`) for the holder in `said`.
    With `forward_if_empty`, finding nothing records nothing and answers None: the call goes
    on to the hub, and that is the one record of it here."""
    user, matter_code, use_cause = said["user"], said["matter_code"], said["use_cause"]
    holder_code_type = said["holder_code_type"]
    code = holder_code_normalise(said["holder_code"], holder_code_type)
    found = list(
        License.objects.filter(
            **lookups.holder_terms(holder_code_digests(code)),
            holder_code_type=holder_code_type,
            license_type_id__in={g.license_type_id for g in grants},
        )
        .exclude(status__in=UNRELEASED)
        .select_related("license_type", "issuer")
        .order_by("-issue_date", "-id")[:QUERY_LIMIT]
    )
    # At the hub, the provincial sector libraries answer for the granted types they serve
    # (art. 9); their licences are shown, recorded, and never stored here.
    sector = sector_query(
        holder_code=code,
        holder_code_type=holder_code_type,
        matter_code=matter_code.strip(),
        use_cause=use_cause,
        requester=user.agency.code,
        type_codes=sorted({g.license_type.type_code for g in grants}),
    )
    if forward_if_empty and not found and not sector.licenses:
        return None
    record = access_record(
        user=user,
        operation=Operation.QUERY,
        matter_code=matter_code.strip(),
        use_cause=use_cause,
        licenses=[*found, *sector.licenses],
        outcome=Outcome.ALLOWED if found or sector.licenses else Outcome.NONE,
        holder_code=code,
        holder_code_type=holder_code_type,
        detail=detail,
    )
    if not found and not sector.licenses:
        ratelimit.rate_miss(agency_key=user.agency.code)
    return QueryAnswer(
        request_id=record.request_id,
        licenses=found,
        sector=sector.licenses,
        unavailable=sector.unavailable,
    )


def _query_forwarded(*, said: dict[str, Any], type_code: str) -> QueryAnswer:
    user, holder_code_type = said["user"], said["holder_code_type"]
    code = holder_code_normalise(said["holder_code"], holder_code_type)
    answer, record = federated.forward(
        user=user,
        operation=Operation.QUERY,
        data={
            "holder": {"code": code, "code_type": holder_code_type},
            "matter_code": said["matter_code"].strip(),
            "use_cause": said["use_cause"],
            "type_code": type_code,
        },
        matter_code=said["matter_code"],
        use_cause=said["use_cause"],
        holder_code=code,
        holder_code_type=holder_code_type,
    )
    remote = [r for r in answer.get("results", []) if isinstance(r, dict)][:QUERY_LIMIT]
    sector = [r for r in answer.get("sector_results", []) if isinstance(r, dict)][:QUERY_LIMIT]
    if not remote and not sector:
        ratelimit.rate_miss(agency_key=user.agency.code)
    return QueryAnswer(
        request_id=record.request_id,
        licenses=[],
        sector=sector,
        unavailable=[str(u) for u in answer.get("unavailable_libraries", [])][:50],
        remote=remote,
        forwarded_to=str(record.detail.get("forwarded_to", "")),
    )
