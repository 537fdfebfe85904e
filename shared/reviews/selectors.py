"""Reads: who sees which review requests, their attachments, and the overdue count per issuer.

The issuing agency's staff see the requests about its licences (its inbox); a requester sees
their own (a holder the ones they filed, an application agency's staff the agency's); the
library administrator and the supervisor see every request, read-only. Nobody else sees any.
"""

import uuid
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q, QuerySet

from shared.accounts.models import User
from shared.core.errors import NotFoundError
from shared.reviews.models import ReviewAttachment, ReviewRequest

HOLDER, AGENCY = ReviewRequest.RequesterKind.HOLDER, ReviewRequest.RequesterKind.AGENCY


def review_list(*, user: User) -> QuerySet[ReviewRequest]:
    reviews = ReviewRequest.objects.select_related("issuer", "license_type", "requester")
    if not getattr(user, "is_authenticated", False):
        return reviews.none()
    if user.is_library_admin or user.is_supervisor:
        return reviews
    if user.is_holder:
        return reviews.filter(requester_kind=HOLDER, requester=user)
    agency = user.agency
    if agency is None:
        return reviews.none()
    scope = Q(pk__in=[])
    if agency.is_issuer:
        scope |= Q(issuer=agency)
    if agency.is_consumer:
        scope |= Q(requester_kind=AGENCY, requester_agency_code=agency.code)
    return reviews.filter(scope)


def with_details(reviews: QuerySet[ReviewRequest]) -> QuerySet[ReviewRequest]:
    """With their reminders and attachments (metadata and `held`: the content stays behind)."""
    attachments = ReviewAttachment.objects.defer("content").annotate(
        held=ExpressionWrapper(Q(content__isnull=False), output_field=BooleanField())
    )
    return reviews.prefetch_related(Prefetch("attachments", queryset=attachments), "reminders")


def review_get(*, user: User, review_id: Any) -> ReviewRequest:
    """The request `review_id` names if `user` may see it, else 404 (also for a malformed id)."""
    try:
        pk = uuid.UUID(str(review_id))
    except ValueError:
        pk = None
    review = review_list(user=user).filter(pk=pk).first() if pk else None
    if review is None:
        raise NotFoundError("review.not_found", "复核申请不存在")
    return review


def is_party(*, user: User, review: ReviewRequest) -> bool:
    """The issuer's staff and whoever asked: who may open the attachments."""
    if user.is_holder:
        return review.requester_kind == HOLDER and review.requester_id == user.pk
    agency = user.agency
    if agency is None or user.is_library_admin or user.is_supervisor:
        return False
    if agency.is_issuer and agency.pk == review.issuer_id:
        return True
    return review.requester_kind == AGENCY and review.requester_agency_code == agency.code


def attachment_get(*, user: User, review_id: Any, attachment_id: Any) -> ReviewAttachment:
    """An attachment for the issuer or the requester (404 for anyone else, and where only
    its metadata is held: the hub's mirror of a city's request)."""
    review = review_get(user=user, review_id=review_id)
    number = str(attachment_id)
    pk = int(number) if number.isdigit() and len(number) < 18 else 0
    attachment = review.attachments.filter(pk=pk).first() if pk else None
    if attachment is None or not is_party(user=user, review=review):
        raise NotFoundError("review.attachment_not_found", "附件不存在")
    if attachment.content is None:
        raise NotFoundError(
            "review.attachment_not_held",
            "本库只保存该附件的摘要，附件内容保存在证照所属的证照库",
        )
    return attachment


def overdue_counts(
    *, reviews: QuerySet[ReviewRequest] | None = None, open_only: bool = False
) -> dict[str, dict[str, Any]]:
    """Requests flagged overdue, per issuing agency (by code): `{"name", "overdue",
    "overdue_open"}` — every request that went past its deadline counts against its issuer,
    answered since or not. `reviews` narrows what is counted (a user's view of them)."""
    rows = (reviews if reviews is not None else ReviewRequest.objects.all()).filter(overdue=True)
    if open_only:
        rows = rows.filter(state=ReviewRequest.State.OPEN)
    counted = (
        rows.order_by()
        .values("issuer__code", "issuer__name")
        .annotate(
            overdue=Count("pk"),
            overdue_open=Count("pk", filter=Q(state=ReviewRequest.State.OPEN)),
        )
    )
    return {
        row["issuer__code"]: {
            "name": row["issuer__name"],
            "overdue": row["overdue"],
            "overdue_open": row["overdue_open"],
        }
        for row in counted
    }
