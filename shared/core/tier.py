"""Which tier this deployment is, for the few places that only *say* it (a label in a response,
a demo's names). Behaviour never branches on it: what a tier does is the code its settings
install (`provincial_hub.aggregation`, `municipal_node.uplink`), registered through hooks."""

from django.conf import settings


def library_tier() -> str:
    """The tier's name, "hub" or "node": the one reader of `settings.LIBRARY_TIER`."""
    return str(settings.LIBRARY_TIER)


def is_hub() -> bool:
    return library_tier() == "hub"
