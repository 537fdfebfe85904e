"""The template preview on the type detail: the type's page drawn by the licence renderer with
placeholder values, as a PNG (pdftoppm), cached."""

import pytest
from django.core.cache import cache

from shared.console import preview

pytestmark = pytest.mark.django_db


def test_the_type_page_shows_its_preview_image(issuer_console, license_type):
    page = issuer_console.get(f"/console/catalogue/{license_type.type_code}/").content.decode()
    assert f"/console/catalogue/{license_type.type_code}/preview.png" in page


def test_the_preview_is_a_png_of_an_a4_page_and_is_cached(issuer_console, license_type):
    cache.delete(preview._key(license_type))
    response = issuer_console.get(f"/console/catalogue/{license_type.type_code}/preview.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    png = response.content
    assert png.startswith(b"\x89PNG")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (497, 702)  # A4 at 60 dpi
    assert cache.get(preview._key(license_type)) == png


def test_a_changed_template_makes_a_new_preview(license_type):
    before = preview._key(license_type)
    license_type.template = {"title": "食品经营许可证（新版）"}
    assert preview._key(license_type) != before
    assert preview.preview_png(license_type).startswith(b"\x89PNG")


def test_an_unprintable_template_is_refused_in_chinese(issuer_console, license_type):
    license_type.template = {"layout": {"font_size": "big"}}
    license_type.save()
    response = issuer_console.get(f"/console/catalogue/{license_type.type_code}/preview.png")
    assert response.status_code == 409
    assert "模板" in response.content.decode()


def test_only_the_issuer_of_the_type(consumer_console, other_issuer_user, license_type):
    from tests.console_support import console_client

    url = f"/console/catalogue/{license_type.type_code}/preview.png"
    assert consumer_console.get(url).status_code == 403
    assert console_client(other_issuer_user).get(url).status_code == 404
