"""Which library an agency belongs to: the city node of its area, or the hub."""

from django.conf import settings

from shared.accounts.models import Agency
from shared.conf.divisions import CITIES


def agency_library(*, level: str, area_code: str) -> str:
    """The library an agency belongs to, from its level and area code: a city's node for an
    area inside the city (the division code's first four digits), the hub for a provincial
    agency or any area outside the cities."""
    hub = settings.FEDERATION_HUB_CODE
    if level == Agency.Level.PROVINCE:
        return hub
    prefix = str(area_code or "")[:4]
    for city in CITIES:
        if len(prefix) == 4 and city[:4] == prefix:
            return city
    return hub


def agency_is_local(agency: Agency) -> bool:
    """Whether `agency` belongs to this library (not a mirror of another library's agency)."""
    return agency_library(level=agency.level, area_code=agency.area_code) == settings.LIBRARY_CODE
