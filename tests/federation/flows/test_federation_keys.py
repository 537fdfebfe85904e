"""Issue #14: 郑州 rotates its exchange key and its access-log signing key while it issues and
answers queries, and the hub ingests all of it: nothing lost, the hub never refuses the properly
rotated node, and the old exchange key is refused once retired.

Real processes (the flows' shared federation): the node's operator runs `federation rotate-key
--overlap` (announce, wait for the hub's acknowledgement through the node's relay worker,
activate, keep the overlap, retire) and `federation rotate-log-key`, as docs/pki.md says.
"""

import json
import threading
import time

import requests

from tests.federation.fedlib import assert_converged, auth, item, surface_fields
from tests.federation.harness import wait_until

FORWARD = (
    "from municipal_node.uplink.checkpoints import checkpoint_forward; print(checkpoint_forward())"
)
# The retired key, still in the node's database, signs an envelope and a request token: what a
# thief holding the old key could present.
OLD_KEY_SIGNS = (
    "import json, time, hashlib; from django.utils import timezone; "
    "from shared.federation.models import LocalKey; "
    "from shared.federation.keys import _parsed_private; "
    "from shared.exchange.envelopes import seal; "
    "from shared.crypto.suites import suite_for_key; from shared.crypto.tokens import sign_token; "
    "k = LocalKey.objects.get(kid='{kid}'); p = _parsed_private(k.kid, k.private_pem); "
    "now = int(time.time()); "
    "claims = {{'iss': '410100', 'aud': '410000', 'iat': now, 'exp': now + 120, 'htm': 'GET', "
    "'htu': '/api/v1/exchange/status', 'bdh': hashlib.sha256(b'').hexdigest()}}; "
    "print(json.dumps({{'envelope': seal(key=p, kid=k.kid, sender='410100', receiver='410000', "
    "stream='410000', events=[], now=timezone.now()), "
    "'token': sign_token(suite=suite_for_key(p), key=p, kid=k.kid, claims=claims)}}))"
)


PACE = 6  # rounds (an issue and a query) a second, below the query rate limit


class Load:
    """Issue licences and query the share interface at the node until stopped."""

    def __init__(self, node):
        self.node = node
        self.creds = node.credentials()
        self.fields = surface_fields(node)
        self.issued: list[str] = []
        self.failures: list[str] = []
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self):
        i = 0
        consumer = self.creds["consumer"]
        while not self._stop.is_set():
            began = time.monotonic()
            self._once(i := i + 1, consumer)
            # at most PACE rounds a second: the consumer's agency may query 600 times a minute
            # (ACCESS_RATE_PER_MINUTE), which an unpaced loop on a fast run exceeded (429)
            self._stop.wait(max(0.0, 1 / PACE - (time.monotonic() - began)))

    def _once(self, i, consumer):
        body = item(self.node, self.fields, 900_000 + i)
        body["number"] = f"KEY{i:07d}"
        created = requests.post(
            f"{self.node.url}/api/v1/licenses/",
            json=body,
            headers=auth(self.creds["issuer"]["token"]),
            timeout=30,
        )
        if created.status_code == 201:
            self.issued.append(created.json()["identifier"])
        else:
            self.failures.append(f"issue {created.status_code} {created.text[:200]}")
        queried = requests.post(
            f"{self.node.url}/api/v1/share/query/",
            json={
                "holder": {"code": self.creds["holder"]["holder_code"], "code_type": "111"},
                "matter_code": consumer["grants"][1]["matter_code"],
                "use_cause": "联邦测试：密钥轮换期间核验",
            },
            headers=auth(consumer["token"]),
            timeout=30,
        )
        if queried.status_code == 200:
            self.queries += 1
        else:
            self.failures.append(f"query {queried.status_code} {queried.text[:200]}")


def forward(node) -> int:
    return int(node.manage("shell", "-c", FORWARD).stdout.strip().splitlines()[-1])


def diagnosis(hub, node) -> str:
    return repr(
        {
            "node_unacknowledged": node.sql(
                "SELECT seq, kind, state, attempts, last_error FROM federation_outboxevent "
                "WHERE state <> 'acknowledged' ORDER BY seq LIMIT 10"
            ),
            "hub_refused": hub.sql(
                "SELECT claimed_sender, error_code, error_message FROM federation_receivedenvelope "
                "WHERE outcome = 'refused' ORDER BY id DESC LIMIT 5"
            ),
            "hub_rejected": hub.sql(
                "SELECT seq, kind, error_code, error_message FROM federation_rejectedevent "
                "ORDER BY id DESC LIMIT 5"
            ),
        }
    )


def witnessed(hub, size):
    return hub.sql(
        "SELECT status, key_id FROM access_witness WHERE node_code = '410100' AND tree_size = %s "
        "ORDER BY id DESC LIMIT 1",
        (size,),
    )


def test_keys_rotate_under_load_nothing_lost_and_the_old_key_refused(federation):
    hub, node = federation["hub"], federation["410100"]
    # given: the node's current keys, a witnessed checkpoint, and the hub's record so far
    old_kid = node.sql("SELECT kid FROM federation_localkey WHERE active")[0][0]
    first = forward(node)
    wait_until(lambda: witnessed(hub, first)[:1] != [], timeout=30, message="first witness")
    old_log_kid = witnessed(hub, first)[0][1]
    refused_before = hub.sql(
        "SELECT count(*) FROM federation_receivedenvelope WHERE outcome = 'refused'"
    )[0][0]
    bad_before = hub.sql(
        "SELECT count(*) FROM access_witness WHERE node_code = '410100' AND status <> 'consistent'"
    )[0][0]
    load = Load(node)
    load.start()
    try:
        time.sleep(2)
        # when: the exchange key rotates, overlap and all, while the node issues and is queried
        out = node.manage("federation", "rotate-key", "--overlap", "3", "--timeout", "120").stdout
        assert "state=retired" in out, out
        new_kid = node.sql("SELECT kid FROM federation_localkey WHERE active")[0][0]
        assert new_kid != old_kid
        # and the access-log key rotates; checkpoints go up before and after
        middle = forward(node)
        rotated = node.manage("federation", "rotate-log-key").stdout
        new_log_kid = rotated.split("new_kid=")[1].split()[0]
        time.sleep(2)
    finally:
        load.stop()
    last = forward(node)
    print(  # noqa: T201 - the measured load, for the record (pytest -s)
        f"\nkey rotation under load: {len(load.issued)} issued, {load.queries} queries, "
        f"checkpoints {first} → {middle} → {last}"
    )
    # then: nothing failed at the node and everything issued reaches the hub
    assert load.failures == [], load.failures[:5]
    assert len(load.issued) >= 5 and load.queries >= 5
    assert last > middle >= first
    try:
        assert_converged(hub, node)
    except AssertionError as exc:  # say which rows and why (a dead letter, a refusal)
        raise AssertionError(f"{exc}; {diagnosis(hub, node)}") from exc
    assert hub.sql(
        "SELECT count(*) FROM licenses_license WHERE identifier = ANY(%s)", (load.issued,)
    ) == [(len(load.issued),)]
    # the hub never refused the properly rotated node: no refused envelope, no dead letter,
    # no checkpoint judged anything but consistent
    assert (
        hub.sql("SELECT count(*) FROM federation_receivedenvelope WHERE outcome = 'refused'")[0][0]
        == refused_before
    )
    assert hub.sql(
        "SELECT count(*) FROM federation_rejectedevent "
        "WHERE kind IN ('key.announce', 'key.retire', 'access.key.announce')"
    ) == [(0,)]
    try:
        wait_until(
            lambda: witnessed(hub, last) == [("consistent", new_log_kid)],
            timeout=30,
            message="checkpoint of the new log key witnessed",
        )
    except AssertionError as exc:  # what the hub holds instead, and what the node still holds
        rows = hub.sql(
            "SELECT tree_size, status, problem, key_id FROM access_witness "
            "WHERE node_code = '410100' ORDER BY id DESC LIMIT 3"
        )
        raise AssertionError(f"{exc}; witnesses {rows}; {diagnosis(hub, node)}") from exc
    assert (
        hub.sql(
            "SELECT count(*) FROM access_witness "
            "WHERE node_code = '410100' AND status <> 'consistent'"
        )[0][0]
        == bad_before
    )
    # the hub holds the new keys as the node's, the old ones retired
    assert hub.sql("SELECT kid FROM federation_peer WHERE code = '410100'") == [(new_kid,)]
    assert dict(
        hub.sql(
            "SELECT kid, state FROM federation_peerkey WHERE peer_code = '410100' "
            "AND kid IN (%s, %s, %s, %s)",
            (old_kid, new_kid, old_log_kid, new_log_kid),
        )
    ) == {old_kid: "retired", new_kid: "current", old_log_kid: "retired", new_log_kid: "current"}
    # when: the retired exchange key signs an envelope and a request token
    signed = node.manage("shell", "-c", OLD_KEY_SIGNS.format(kid=old_kid)).stdout
    forged = json.loads(signed.strip().splitlines()[-1])
    envelope = requests.post(
        f"{hub.url}/api/v1/exchange/envelopes/", json=forged["envelope"], timeout=10
    )
    token = requests.get(
        f"{hub.url}/api/v1/exchange/status",
        params={"node": "410100"},
        headers={"X-Exchange-Token": forged["token"]},
        timeout=10,
    )
    # then: both refused, with the stable code
    assert (envelope.status_code, envelope.json()["code"]) == (403, "exchange.key_retired")
    assert (token.status_code, token.json()["code"]) == (401, "exchange.key_retired")
    # and the federation keeps working with the new key
    fields = surface_fields(node)
    after = requests.post(
        f"{node.url}/api/v1/licenses/",
        json=item(node, fields, 990_001) | {"number": "KEYAFTER1"},
        headers=auth(node.credentials()["issuer"]["token"]),
        timeout=30,
    )
    assert after.status_code == 201, after.text
    ident = after.json()["identifier"]
    wait_until(lambda: hub.count("identifier = %s", (ident,)) == 1, timeout=30, message="after")
