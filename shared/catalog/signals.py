"""`license_type_changed`: sent inside the transaction of every catalogue change, so the
federation's outbox row commits with it (art. 12: the province sees every city's catalogue)."""

from django.dispatch import Signal

license_type_changed = Signal()
