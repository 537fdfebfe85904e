"""`license_changed`: sent inside the transaction of every licence change.

Receivers run in that same transaction, so what they write (an outbox row for the hub, a
render job row) commits or rolls back with the change itself (STYLE habit 3). A receiver that
starts outside work (a Celery task) must do so with `shared.core.effects.enqueue_on_commit`.

Arguments: `license` (the License row, already in its new state), `event` (the LicenseEvent
just written), `new_version` (True when the change wrote a new LicenseVersion), and optionally
`version` (that new LicenseVersion, so receivers need not read it back).
"""

from django.dispatch import Signal

license_changed = Signal()
