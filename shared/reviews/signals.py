"""`review_changed`: sent inside the transaction of every change of a review request.

Sent by `shared.reviews.services` after the row is saved with its new `revision` (created,
answered, reminded, flagged overdue): `sender=ReviewRequest`, `review` (the row, in its new
state). Receivers run in that transaction, so what they write (the outbox row for the hub)
commits or rolls back with the change (STYLE habit 3).
"""

from django.dispatch import Signal

review_changed = Signal()
