"""Where a watch made here goes: a city registers its hub link in `AppConfig.ready`
(`municipal_node.uplink.watch`); at the hub the watch is matched where it is made."""

from shared.watch.models import Watch


class WatchFederation:
    """Told in the transaction of the change; the default (the hub) sends nothing."""

    def subscribed(self, watch: Watch) -> None:
        return None

    def cancelled(self, watch: Watch) -> None:
        return None


_federation = WatchFederation()


def watch_federation_register(federation: WatchFederation) -> None:
    global _federation
    _federation = federation


def watch_federation() -> WatchFederation:
    return _federation
