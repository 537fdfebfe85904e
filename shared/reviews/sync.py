"""Review requests travel to the hub like any other change (art. 8): `review.update`.

Sender side: every change (`review_changed`) writes an outbox row in its own transaction on the
streams `FederationRole.record_streams` names for the licence's library (a city: up to the hub,
for its own licences; the hub: none). Key: the request's UUID; payload
`{"schema", "review": snapshot}`. Attachments do not travel: only their name, type, size and
digests; the people do not either (the mirror's `requester` is null).

Receiver side (`apply_review`, in `HANDLERS` at both tiers; only the hub is ever sent any): the
sender must own the request (`library_code`) and the licence it is about, as the hub holds it; a
licence the hub does not hold is a permanent error (dead letter); a revision not newer than the
one held changes nothing, so an older state never overwrites a newer one.
"""

import uuid
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from shared.core.errors import PermanentError
from shared.federation import ownership
from shared.federation.outbox import outbox_write
from shared.federation.roles import role
from shared.licenses.models import License, LicenseVersion
from shared.reviews.models import ReviewAttachment, ReviewRequest

KIND = "review.update"
SCHEMA = 1
_enc = DjangoJSONEncoder()

# The columns that travel as they are.
PLAIN_FIELDS = (
    "library_code",
    "identifier",
    "requester_kind",
    "requester_agency_code",
    "matter_code",
    "use_cause",
    "fields",
    "reason",
    "deadline_provisional",
    "state",
    "answer_reason",
    "corrected_identifier",
    "answered_late",
    "overdue",
    "reminders_sent",
    "revision",
)
ATTACHMENT_FIELDS = ("name", "content_type", "size", "sm3", "sha256")


def _iso(value: Any) -> Any:
    return None if value is None else _enc.default(value)


def review_snapshot(review: ReviewRequest) -> dict[str, Any]:
    """The request as it is now, without its people and its files' content."""
    snap: dict[str, Any] = {name: getattr(review, name) for name in PLAIN_FIELDS}
    snap.update(
        id=str(review.pk),
        type_code=review.license_type.type_code,
        issuer_code=review.issuer.code,
        received_at=_iso(review.received_at),
        deadline=_iso(review.deadline),
        answered_at=_iso(review.answered_at),
        attachments=[
            {name: getattr(a, name) for name in ATTACHMENT_FIELDS}
            for a in review.attachments.order_by("id")
        ],
    )
    return snap


def on_review_changed(sender: Any, *, review: ReviewRequest, **_: Any) -> None:
    """The outbox row of the change, in its transaction (receiver of `review_changed`)."""
    streams = role().record_streams(review.library_code)
    if not streams:
        return
    payload = {"schema": SCHEMA, "review": review_snapshot(review)}
    for stream in streams:
        outbox_write(stream=stream, kind=KIND, key=str(review.pk), payload=payload)


# --- receiving -------------------------------------------------------------------------------


def _not_owner(*, sender: str, key: str, owner: str, message: str) -> ownership.NotOwnerError:
    return ownership.NotOwnerError(
        ownership.NOT_OWNER,
        message,
        {"sender": sender, "record": "review", "key": key, "owner": owner},
    )


def _licence(snap: dict[str, Any]) -> License:
    version = (
        LicenseVersion.objects.filter(identifier=str(snap["identifier"]))
        .select_related("license__issuer", "license__license_type")
        .first()
    )
    if version is None:
        raise PermanentError(
            "review.license_unknown",
            "复核申请所涉证照尚未汇聚到本库，无法接收",
            {"identifier": str(snap["identifier"])[:120]},
        )
    return version.license


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None


def _fields(snap: dict[str, Any], lic: License) -> dict[str, Any]:
    values = {name: snap[name] for name in PLAIN_FIELDS}
    values.update(
        license=lic,
        issuer=lic.issuer,
        license_type=lic.license_type,
        requester=None,
        received_at=_dt(snap["received_at"]),
        deadline=date.fromisoformat(str(snap["deadline"])),
        answered_at=_dt(snap.get("answered_at")),
    )
    return values


def _check(review: ReviewRequest, attachments: list[ReviewAttachment]) -> None:
    """The model's own rules (lengths, choices) on what arrived: a 400-type dead letter rather
    than a database error."""
    try:
        review.full_clean(
            exclude=["license", "issuer", "license_type"],
            validate_unique=False,
            validate_constraints=False,
        )
        for attachment in attachments:
            attachment.full_clean(exclude=["review", "content"])
    except ValidationError as exc:
        raise PermanentError(
            "review.payload_invalid", "复核申请内容不符合要求", {"errors": exc.message_dict}
        ) from exc


@transaction.atomic
def apply_review(payload: dict[str, Any], *, sender: str) -> ReviewRequest | None:
    """Keep the newest state of a request the sender owns; returns the row (None when the one
    held is as new or newer)."""
    snap = payload["review"]
    key = str(uuid.UUID(str(snap["id"])))  # ValueError: a payload to dead-letter
    claimed = str(snap["library_code"])
    if claimed != sender:
        raise _not_owner(
            sender=sender, key=key, owner=claimed, message="发送方无权修改其他证照库的复核申请"
        )
    lic = _licence(snap)
    if lic.library_code != sender:
        raise _not_owner(
            sender=sender,
            key=key,
            owner=lic.library_code,
            message="发送方无权对其他证照库的证照提交复核申请",
        )
    held = ReviewRequest.objects.select_for_update().filter(pk=key).first()
    if held is not None and (held.library_code != sender or held.license_id != lic.pk):
        raise _not_owner(
            sender=sender, key=key, owner=held.library_code, message="复核申请已属于其他证照库"
        )
    if held is not None and held.revision >= int(snap["revision"]):
        return None  # a duplicate or an older state: keep the newer one held
    review = held or ReviewRequest(pk=key)
    for name, value in _fields(snap, lic).items():
        setattr(review, name, value)
    known = set() if held is None else set(held.attachments.values_list("sm3", "name"))
    new = [
        ReviewAttachment(review=review, content=None, **{n: a[n] for n in ATTACHMENT_FIELDS})
        for a in snap.get("attachments") or []
        if (a["sm3"], a["name"]) not in known
    ]
    _check(review, new)
    review.save()
    ReviewAttachment.objects.bulk_create(new)
    return review
