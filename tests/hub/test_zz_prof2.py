import cProfile, pstats, io, time
import pytest
from tests.hub.test_hardening_federation import LY, numbered, post
from tests.hub.test_partitioned_licences import luoyang  # noqa: F401
from tests.support import issued_events, make_agency, make_type, make_uscc, make_user, token_client

pytestmark = pytest.mark.django_db


def test_prof(anon, luoyang, issue_payload):  # noqa: F811
    agency = make_agency("洛阳市市场监督管理局", body="00003001", area=LY, is_issuer=True)
    user = make_user("ly_issuer", agency)
    ly_type = make_type(user, seq=7, requires_review=False)
    bodies = [issue_payload(type_code=ly_type.type_code, number=f"LYP{i:06d}",
              holder={"name": f"洛阳持证人{i}", "code": make_uscc(dept="91", area="410300", body=f"PT{i:06d}"), "code_type": "001"})
              for i in range(600)]
    events = issued_events(token_client(user), bodies)
    for e in events:
        e["payload"]["license"]["library_code"] = LY
    envs = [luoyang.envelope(numbered(events[k:k+200], start=1+k)) for k in (0, 200, 400)]
    assert post(anon, envs[0]).json()["applied"] == 200
    prof = cProfile.Profile()
    t0, w0 = time.process_time(), time.monotonic()
    prof.enable()
    for env in envs[1:]:
        assert post(anon, env).json()["applied"] == 200
    prof.disable()
    print(f"\ncpu {((time.process_time()-t0)/400)*1000:.3f} ms/licence, wall {((time.monotonic()-w0)/400)*1000:.3f} ms/licence")
    s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(45); print(s.getvalue()[:9000])
    s = io.StringIO(); pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25); print(s.getvalue()[:6000])
