"""The landing page at `/` of the provincial hub (issue #15 item 7)."""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_hub_landing_page_says_it_is_the_hub_and_links_each_sign_in():
    page = Client().get("/").content.decode()
    assert settings.LIBRARY_NAME in page and "省级枢纽" in page and "市级节点" not in page
    assert f'data-testid="library-code">{settings.LIBRARY_CODE}<' in page
    assert 'href="/console/login/"' in page and 'href="/holder/login/"' in page
    assert 'action="/verify/"' in page
    assert "演示账户" not in page
