"""The hub keeps each library's trust material (only its own, only for its own agencies),
and publishes one list signed with its federation key, a new version only on change."""

import pytest

from provincial_hub.aggregation.models import LibraryTrust
from provincial_hub.aggregation.trust import apply_trust_keys, trust_list_publish
from shared.core.errors import PermanentError
from shared.federation.keys import export_public, peer_register
from shared.federation.ownership import NotOwnerError
from shared.federation.trust import material_digest, trust_list_verify
from shared.files.models import ProvincialTrustList
from shared.files.trust import province
from tests.support import make_agency

pytestmark = pytest.mark.django_db


def material(library="410100", *, seals=()):
    return {
        "library": library,
        "library_name": "郑州市电子证照库",
        "tier": "node",
        "status_list_base": "http://127.0.0.1:8001",
        **{name: [] for name in ("ca", "tsa", "sm2_ca", "sm2_seals", "token_keys")},
        "seals": list(seals),
        "revocations": [],
    }


def event(body):
    return {"schema": 1, "material": body, "sm3": material_digest(body)}


def test_published_list_is_signed_by_the_hub_and_versioned_on_change(anon):
    # given the hub's own key registered as the hub's peer key, as nodes hold it
    own = export_public()
    peer_register(code="410000", kid=own["kid"], public_key_pem=own["public_key_pem"])
    first = trust_list_publish().version
    assert trust_list_publish().version == first  # nothing changed
    # when 郑州 reports its material, twice (a duplicate delivery)
    apply_trust_keys(event(material()), sender="410100")
    apply_trust_keys(event(material()), sender="410100")
    # then one new version, served signed, verifiable with the hub's peer key
    body = anon.get("/api/v1/federation/trust-list/").json()
    document, _ = trust_list_verify(body, hub_code="410000")
    assert document["version"] == first + 1
    assert sorted(lib["library"] for lib in document["libraries"]) == ["410000", "410100"]
    assert ProvincialTrustList.objects.get().version == first + 1
    assert "410100" in province().libraries


def test_a_city_reports_only_its_own_material(settings):
    trust_list_publish()
    version = ProvincialTrustList.objects.get().version
    # 洛阳 sending 郑州's material
    with pytest.raises(NotOwnerError):
        apply_trust_keys(event(material("410100")), sender="410300")
    # 郑州 sending a seal of a 洛阳 agency
    luoyang = make_agency("洛阳市市场监督管理局", body="00001001", area="410300", is_issuer=True)
    seal = {"agency_code": luoyang.code, "certificate": "", "fingerprint": ""}
    with pytest.raises(NotOwnerError):
        apply_trust_keys(event(material(seals=[seal])), sender="410100")
    # a digest that does not match
    bad = event(material())
    bad["material"]["library_name"] = "改"
    with pytest.raises(PermanentError):
        apply_trust_keys(bad, sender="410100")
    assert LibraryTrust.objects.exclude(library=settings.LIBRARY_CODE).count() == 0
    assert ProvincialTrustList.objects.get().version == version
