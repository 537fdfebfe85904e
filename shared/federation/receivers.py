"""What the federation listens to: the library's changes, each written to the outbox in the
change's own transaction (a node's file announcements are wired by `municipal_node.uplink`).
Wired by `FederationConfig.ready()` (see `shared.core.effects`)."""

from shared.catalog.signals import license_type_changed
from shared.federation.outbox import on_license_changed, on_license_type_changed
from shared.licenses.signals import license_changed


def connect() -> None:
    license_changed.connect(on_license_changed, dispatch_uid="federation.outbox.license")
    license_type_changed.connect(on_license_type_changed, dispatch_uid="federation.outbox.type")
