"""What notifications listens to: licence changes (status), review answers. Wired by
`NotificationsConfig.ready()` (see `shared.core.effects`)."""

from shared.licenses.signals import license_changed
from shared.notifications import producers
from shared.reviews.models import ReviewRequest
from shared.reviews.signals import review_changed


def connect() -> None:
    license_changed.connect(producers.on_license_changed, dispatch_uid="notifications.status")
    review_changed.connect(
        producers.on_review_changed, sender=ReviewRequest, dispatch_uid="notifications.review"
    )
