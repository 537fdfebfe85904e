"""The library administrator may correct this library's catalogue entries (the admin console
does so), never a mirror of another library's entry held here."""

import pytest

from shared.catalog import services
from shared.core.errors import ForbiddenError
from tests.support import make_agency, make_type, make_user

pytestmark = pytest.mark.django_db


def test_a_local_entry_yes_another_librarys_entry_no(library_admin, license_type):
    services.license_type_update(actor=library_admin, license_type=license_type, description="更正")
    assert license_type.__class__.objects.get(pk=license_type.pk).description == "更正"
    # an agency of 洛阳 (410300) held at 郑州's node (410100): its owner is another library
    luoyang = make_agency("洛阳市市场监督管理局", body="00005001", area="410300", is_issuer=True)
    foreign = make_type(make_user("ly_1", luoyang), seq=9, requires_review=False)
    with pytest.raises(ForbiddenError) as refused:
        services.license_type_update(actor=library_admin, license_type=foreign, description="x")
    assert refused.value.code == "catalog.not_owner"
    assert foreign.__class__.objects.get(pk=foreign.pk).description == ""
