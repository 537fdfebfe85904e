"""`license_file_ready`: sent inside the transaction that marks a licence file ready.

Receivers run in that same transaction (STYLE habit 3): the federation's outbox row that tells
the hub about the file (`file.ready`, by digest) commits or rolls back with the row's new state.

Arguments: `file` (the LicenseFile row, ready, with `sm3`, `size` and `path`).
"""

from django.dispatch import Signal

license_file_ready = Signal()
