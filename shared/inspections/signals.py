"""`inspection_changed`: sent inside the transaction of every change to an `Inspection`.

Sent after the row is saved with its new `revision` (submitted, approved, refused at the
library that holds the licence; applied from a received `inspection.update` at a mirror).
Receivers run in that same transaction: the outbox row for the hub
(`shared.inspections.receivers`) commits or rolls back with the change.

Arguments: `inspection` (the Inspection row, in its new state).
"""

from django.dispatch import Signal

inspection_changed = Signal()
