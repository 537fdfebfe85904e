"""印章证书 at the hub: the provincial operator sees the hub's CAs and keys and rotates the
token key from the same screen as a city's administrator (shared/console), audited once."""

import pytest

from shared.audit.models import AuditEntry
from shared.files import keystore
from shared.files.models import SigningKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def files_root(settings, tmp_path):
    settings.FILES_ROOT = str(tmp_path / "files")
    keystore.reset_caches()
    yield
    keystore.reset_caches()


def test_the_operator_rotates_the_hubs_token_key(operator_console, library_admin):
    keystore.pki_init()
    token = SigningKey.objects.get(kind="token", active=True)
    html = operator_console.get("/console/admin/seals/").content.decode()
    assert "印章证书" in html and "SM2 根证书" in html and token.key_id in html
    url = f"/console/admin/seals/{token.key_id}/rotate/"
    response = operator_console.post(url, {"reason": "年度例行轮换"})
    assert response.status_code == 302
    new = SigningKey.objects.get(kind="token", active=True)
    assert new.key_id != token.key_id
    entry = AuditEntry.objects.get(action="key.rotate")
    assert (entry.actor, entry.detail["reason"], entry.library_code) == (
        library_admin,
        "年度例行轮换",
        "410000",
    )
