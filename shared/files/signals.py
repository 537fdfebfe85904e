"""`license_file_ready`: sent inside the transaction that marks a licence file ready.

Receivers run in that same transaction (STYLE habit 3): the federation's outbox row that tells
the hub about the file (`file.ready`, by digest) commits or rolls back with the row's new state.

Arguments: `file` (the LicenseFile row, ready, with `sm3`, `size` and `path`).

`trust_material_changed`: sent inside the transaction that creates, rotates or revokes a key
of this library (no arguments). A city's uplink sends its public trust material up to the hub
(`trust.keys`) after that transaction commits.
"""

from django.dispatch import Signal

license_file_ready = Signal()
trust_material_changed = Signal()
