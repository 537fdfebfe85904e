"""The hub answers a purpose-bound query or verify a city node forwarded for one of its
consumers (issue #13 item 2; the node's side is `shared.access.federated`).

Trust nothing about the sender but its signature: the consumer agency must belong to the
sending city (judged from the agency row held here when there is one), and the grant is the
hub's decision:

- a **province grant** (given at the hub to that agency for the type and matter) covers any
  licence of its type in the aggregate;
- a **city grant** the node carries (the agency's active grants at the node for the matter,
  by type code) is honoured for the types a city may grant: its own (issued by its agencies)
  and the provincial types the hub pushed down to it. It never opens another city's types:
  for those the agency needs a province grant.

The caller checks, refusals and answers are those of a local call (same codes); each call is
recorded here — the person named "user（city）", `detail.forwarded_by` — before the answer
goes back, with the outcome the node records in its own log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from shared.access import ratelimit
from shared.access.api.serializers import SharedLicenseSerializer
from shared.access.models import AccessRecord
from shared.access.selectors import grants_active
from shared.access.services import (
    access_record,
    caller_check,
    no_grant,
    query_answer,
    rate_check,
)
from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.federation.ownership import NOT_OWNER, NotOwnerError, agency_owner
from shared.files import verification
from shared.files.access import share_purpose_check, verify_answer
from shared.licenses.models import License

Operation = AccessRecord.Operation
Outcome = AccessRecord.Outcome


@dataclass(slots=True, kw_only=True)
class ForwardedCaller:
    """The person at a city node a forwarded call names, as the hub's services see a user: no
    account here (`pk` None), the agency held here or as the node described it."""

    agency: Agency
    username: str
    ref: int | None
    library: str
    is_authenticated: bool = True
    is_library_admin: bool = False
    is_holder: bool = False
    pk: None = None

    def get_username(self) -> str:
        return f"{self.username}（{self.library}）"


def forwarded_caller(
    *, sender: str, agency: dict[str, Any], user: dict[str, Any]
) -> ForwardedCaller:
    """The caller of a forwarded call, or `federation.not_owner` when the agency is not the
    sending city's (a city speaks only for its own agencies)."""
    stored = Agency.objects.filter(code=agency["code"]).first()
    owner = agency_owner(agency, stored)
    if owner != sender:
        raise NotOwnerError(
            NOT_OWNER,
            "发送方只能为本市的用证单位转发用证请求",
            {"sender": sender, "record": "agency", "key": agency["code"], "owner": owner},
        )
    held = stored or Agency(
        code=agency["code"],
        name=agency["name"],
        level=agency.get("level") or Agency.Level.CITY,
        area_code=agency["area_code"],
        is_consumer=bool(agency.get("is_consumer")),
        active=True,
    )
    return ForwardedCaller(
        agency=held,
        username=str(user.get("username", ""))[:120],
        ref=user.get("ref"),
        library=sender,
    )


def granted_types(
    *,
    caller: ForwardedCaller,
    matter_code: str,
    city_grants: list[str],
    license_type: LicenseType | None = None,
) -> dict[int, str]:
    """The types (id → code) the caller may use for the matter here: its province grants, and
    its city's grants where the rule honours them (see the module's docstring)."""
    types: dict[int, str] = {}
    if caller.agency.pk is not None:
        for grant in grants_active(
            agency=caller.agency, matter_code=matter_code, license_type=license_type
        ).select_related("license_type"):
            types[grant.license_type_id] = grant.license_type.type_code
    honoured = {caller.library, settings.LIBRARY_CODE}
    carried = LicenseType.objects.filter(type_code__in=city_grants[:200]).select_related("issuer")
    if license_type is not None:
        carried = carried.filter(pk=license_type.pk)
    for license_type_row in carried:
        if agency_owner({}, license_type_row.issuer) in honoured:
            types[license_type_row.pk] = license_type_row.type_code
    return types


@dataclass(frozen=True, slots=True)
class _Granted:
    """What `query_answer` reads of a grant."""

    license_type_id: int
    license_type: Any


def forwarded_query(
    *,
    sender: str,
    agency: dict[str, Any],
    user: dict[str, Any],
    city_grants: list[str],
    holder: dict[str, str],
    matter_code: str,
    use_cause: str,
    type_code: str = "",
) -> dict[str, Any]:
    """A city's forwarded share query, answered from the province's aggregate."""
    caller = forwarded_caller(sender=sender, agency=agency, user=user)
    said: dict[str, Any] = {
        "user": caller,
        "matter_code": matter_code,
        "use_cause": use_cause,
        "operation": Operation.QUERY,
        "holder_code": holder["code"],
        "holder_code_type": holder["code_type"],
    }
    rate_check(user=caller, operation=Operation.QUERY, matter_code=matter_code, use_cause=use_cause)
    caller_check(**said)
    license_type = None
    if type_code:
        license_type = LicenseType.objects.filter(type_code=type_code).first() or LicenseType(pk=-1)
    types = granted_types(
        caller=caller,
        matter_code=matter_code.strip(),
        city_grants=city_grants,
        license_type=license_type,
    )
    if not types:
        raise no_grant(**said)
    grants = [_Granted(pk, _TypeCode(code)) for pk, code in types.items()]
    answer = query_answer(grants=grants, said=said, detail=_detail(caller))
    assert answer is not None  # without `forward_if_empty` there is always an answer
    results = SharedLicenseSerializer(answer.licenses, many=True).data
    return {
        "request_id": str(answer.request_id),
        "library_code": settings.LIBRARY_CODE,
        "count": len(results),
        "results": results,
        "sector_results": answer.sector,
        "unavailable_libraries": answer.unavailable,
        "record": {
            "request_id": str(answer.request_id),
            "outcome": Outcome.ALLOWED if answer.licenses or answer.sector else Outcome.NONE,
            "licenses": [_licence_item(lic) for lic in answer.licenses],
        },
    }


@dataclass(frozen=True, slots=True)
class _TypeCode:
    type_code: str


def forwarded_verify(
    *,
    sender: str,
    agency: dict[str, Any],
    user: dict[str, Any],
    city_grants: list[str],
    values: dict[str, Any],
) -> dict[str, Any]:
    """A city's forwarded verify (比对 included): the answer of a local verify at the hub."""
    caller = forwarded_caller(sender=sender, agency=agency, user=user)
    matter_code, use_cause = values["matter_code"], values["use_cause"]
    share_purpose_check(matter_code=matter_code, use_cause=use_cause)
    version, outcome, early = verification.share_target(values)
    lic: License | None = version.license if version else None
    said: dict[str, Any] = {
        "user": caller,
        "operation": Operation.VERIFY,
        "matter_code": matter_code,
        "use_cause": use_cause,
    }
    rate_check(**said)
    caller_check(**said, holder_code="", holder_code_type="")
    types = granted_types(caller=caller, matter_code=matter_code.strip(), city_grants=city_grants)
    if not types:  # as a local verify: no grant for the matter at all is refused
        raise no_grant(
            **said,
            holder_code=lic.holder_code if lic is not None else "",
            holder_code_type=lic.holder_code_type if lic is not None else "",
        )
    outcome_recorded, reason = (Outcome.ALLOWED if lic is not None else Outcome.NONE), ""
    if lic is not None and lic.license_type_id not in types:
        # Outside the grants: recorded as refused, answered as a licence that does not exist.
        outcome_recorded, reason = Outcome.REFUSED, "access.no_grant"
        version, outcome, early = None, "not_found", 5
    if version is None:
        ratelimit.rate_miss(agency_key=caller.agency.code)
    detail = {"endpoint": "verify", **_detail(caller)}
    if reason:
        detail["answered_as"] = "not_found"
    record = access_record(
        **said,
        licenses=[lic] if lic is not None else [],
        outcome=outcome_recorded,
        reason_code=reason,
        detail=detail,
    )
    body = verify_answer(
        version=version, outcome=outcome, early=early, supplied=values.get("fields") or {}
    )
    body["record"] = {
        "request_id": str(record.request_id),
        "outcome": outcome_recorded,
        "reason_code": reason,
        "licenses": [_licence_item(lic)] if lic is not None else [],
    }
    return body


def _detail(caller: ForwardedCaller) -> dict[str, Any]:
    return {"forwarded_by": caller.library, "user_ref": caller.ref}


def _licence_item(lic: License) -> dict[str, str]:
    return {
        "identifier": lic.identifier,
        "type_code": lic.license_type.type_code,
        "issuer_code": lic.issuer.code,
        "source_library": lic.library_code,
    }
