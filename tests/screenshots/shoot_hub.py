"""`make screenshots`, the hub's screens (run under the hub's settings): the aggregation
dashboard and the hub's landing page."""

import pytest
from django.utils import timezone

from shared.federation.models import InboundCursor
from tests.console_browser import nav, sign_in
from tests.console_support import code_now, enrol
from tests.screenshots.screens import DESKTOP, shoot

pytestmark = pytest.mark.django_db(transaction=True)


def test_hub_screens(browser_page, library_admin):
    now = timezone.now()
    InboundCursor.objects.create(
        sender="410100", high_water_mark=7, last_event_at=now, last_envelope_at=now
    )
    enrol(library_admin)
    page = browser_page()
    page.set_viewport_size(DESKTOP)
    page.goto("/")
    shoot(page, "hub-landing")
    sign_in(page, library_admin.username, code_now())
    nav(page, "汇聚总览").click()
    shoot(page, "hub-dashboard")
