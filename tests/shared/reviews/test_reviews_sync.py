"""A city's review requests travel up to the hub like any other change: every change bumps the
revision, sends `review_changed` and writes a `review.update` outbox row in its transaction;
attachments travel as metadata only."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from shared.federation.models import OutboxEvent
from shared.reviews import services
from shared.reviews.models import ReviewRequest
from shared.reviews.signals import review_changed
from tests.shared.reviews.conftest import CAUSE, REASON, body, review_outbox

pytestmark = pytest.mark.django_db
PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def changes():
    seen = []

    def receiver(sender, *, review, **_):
        seen.append((sender, review.pk, review.revision, review.state))

    review_changed.connect(receiver, dispatch_uid="test.reviews.changes")
    yield seen
    review_changed.disconnect(dispatch_uid="test.reviews.changes")


def test_filing_writes_the_update_for_the_hub(consumer, granted, lic, changes, settings):
    pdf = SimpleUploadedFile("证明.pdf", PDF, content_type="application/pdf")
    response = consumer.post(
        "/api/v1/reviews/", {**body(lic.identifier), "attachments": [pdf]}, format="multipart"
    )
    assert response.status_code == 201
    review_id = response.json()["id"]
    [event] = review_outbox()
    assert (event.stream, event.kind, event.key) == (
        settings.FEDERATION_HUB_CODE,
        "review.update",
        review_id,
    )
    snap = event.payload["review"]
    assert event.payload["schema"] == 1
    assert snap["id"] == review_id and snap["library_code"] == settings.LIBRARY_CODE
    assert (snap["identifier"], snap["state"], snap["revision"]) == (lic.identifier, "open", 1)
    assert (snap["reason"], snap["use_cause"], snap["fields"]) == (REASON, CAUSE, ["经营项目"])
    assert snap["type_code"] == lic.license_type.type_code
    assert snap["issuer_code"] == lic.issuer.code
    [attachment] = snap["attachments"]
    assert set(attachment) == {"name", "content_type", "size", "sm3", "sha256"}
    assert attachment["size"] == len(PDF)
    assert "requester" not in snap and "username" not in json.dumps(snap)
    assert changes == [(ReviewRequest, ReviewRequest.objects.get().pk, 1, "open")]


def test_every_change_is_a_new_revision_on_the_same_stream(filed, issuer, changes):
    issuer.post(
        f"/api/v1/reviews/{filed['id']}/answer/",
        {"outcome": "rejected", "reason": "经核实无误"},
        format="json",
    )
    events = review_outbox()
    assert [(e.key, e.payload["review"]["revision"]) for e in events] == [
        (filed["id"], 1),
        (filed["id"], 2),
    ]
    assert events[1].payload["review"]["answer_reason"] == "经核实无误"
    assert events[1].payload["review"]["answered_at"]
    assert [c[2:] for c in changes] == [(2, "rejected")]


def test_a_change_rolled_back_leaves_no_outbox_row(consumer_user, granted, lic):
    before = OutboxEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.review_create(
            actor=consumer_user,
            identifier=lic.identifier,
            reason=REASON,
            matter_code="M0001",
            use_cause=CAUSE,
        )
        raise RuntimeError("rolled back")
    assert OutboxEvent.objects.count() == before
    assert not ReviewRequest.objects.exists()


def test_a_copy_held_from_another_library_would_not_be_sent(filed):
    """The node sends requests about its own licences only (`record_streams`)."""
    from shared.federation.roles import role

    assert role().record_streams("410300") == []
    assert role().record_streams(filed["library_code"]) == ["410000"]
