"""What the reviews app listens to: its own `review_changed`, to write the change's outbox row
for the hub in the same transaction. Wired by `ReviewsConfig.ready()` (see
`shared.core.effects`)."""

from shared.reviews.models import ReviewRequest
from shared.reviews.signals import review_changed
from shared.reviews.sync import on_review_changed


def connect() -> None:
    review_changed.connect(
        on_review_changed, sender=ReviewRequest, dispatch_uid="reviews.sync.outbox"
    )
