"""What the inspections app listens to: its own `inspection_changed`, to write the outbox row
for the hub in the change's transaction. Wired by `InspectionsConfig.ready()` (see
`shared.core.effects`)."""

from shared.inspections.signals import inspection_changed
from shared.inspections.sync import on_inspection_changed


def connect() -> None:
    inspection_changed.connect(on_inspection_changed, dispatch_uid="inspections.outbox")
