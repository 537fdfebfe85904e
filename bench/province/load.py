"""The load of bench/province on the real processes: issuing and changing licences through the
real nodes' API, purpose-bound queries through the hub and public QR verification, each a
bounded-rate thread-pool client; then lag, latency and reconciliation figures."""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import requests
from django.utils import timezone

from bench.province.city import holder_code
from shared.demo.data import make_uscc
from tests.federation import fedlib

# The mix of single changes at a real node (weights); bulk uploads come on top.
NODE_MIX = {"issue": 55, "amend": 15, "renew": 8, "suspend": 10, "resume": 6, "revoke": 6}
SOURCES = {
    "amend": {"valid"},
    "renew": {"valid"},
    "suspend": {"valid"},
    "resume": {"suspended"},
    "revoke": {"valid", "suspended"},
}
LAG_SQL = (
    "SELECT t.type_code || '.' || a.code || '.' || l.serial, e.seq, "
    "extract(epoch from e.created_at)::float8 FROM licenses_licenseevent e "
    "JOIN licenses_license l ON l.id = e.license_id JOIN accounts_agency a ON a.id = l.issuer_id "
    "JOIN catalog_licensetype t ON t.id = l.license_type_id WHERE l.library_code = %s"
)


def client() -> requests.Session:
    """A client session that opens a connection per request. With keep-alive, a pooled
    connection the server closed as idle (gunicorn's 2 s) at the moment a request went out
    failed as RemoteDisconnected / connection reset: 2 of 30,000 requests in the first 600 s
    run, a race of the transport, not an answer of the application."""
    session = requests.Session()
    session.headers["Connection"] = "close"
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=32))
    return session


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))], 4)

    return {"n": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99), "max": at(100)}


class Paced:
    """Calls `fn` `rate` times a second for `seconds` on a bounded pool."""

    def __init__(self, rate: float, fn, workers: int = 8) -> None:  # type: ignore[no-untyped-def]
        self.rate, self.fn, self.workers = rate, fn, workers

    def run(self, seconds: float) -> int:
        if self.rate <= 0:
            return 0
        start, n = time.monotonic(), 0
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            while time.monotonic() - start < seconds:
                time.sleep(max(0.0, start + n / self.rate - time.monotonic()))
                pool.submit(self.fn, n)
                n += 1
        return n


class Node:
    """A real node's issuing system: its licences as the API answered them."""

    def __init__(self, lib: Any) -> None:
        self.lib = lib
        self.token = fedlib.issuer(lib)["token"]
        self.fields = fedlib.surface_fields(lib)
        self.session = client()
        self.licences: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.counter = 0
        self.counts: dict[str, int] = {}
        self.tokens: list[str] = []  # QR tokens for the public

    def next_numbers(self, count: int) -> list[int]:
        with self.lock:
            first = self.counter
            self.counter += count
        return list(range(first, first + count))

    def post(self, path: str, body: dict) -> requests.Response:
        return self.session.post(
            f"{self.lib.url}/api/v1/{path}", json=body, headers=fedlib.auth(self.token), timeout=60
        )

    def issue(self, errors: list[str]) -> None:
        i = self.next_numbers(1)[0]
        r = self.post("licenses/", fedlib.item(self.lib, self.fields, i))
        if r.status_code != 201:
            errors.append(f"{self.lib.name} issue {r.status_code} {r.text[:200]}")
            return
        body = r.json()
        with self.lock:
            self.licences.append(
                {"id": body["identifier"], "status": body["status"], "n": i, "k": 0, "busy": False}
            )
        self.count("issue")

    def count(self, kind: str, n: int = 1) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def change(self, action: str, errors: list[str]) -> bool:
        with self.lock:
            fit = [x for x in self.licences if x["status"] in SOURCES[action] and not x["busy"]]
            if not fit:
                return False
            lic = random.choice(fit)
            lic["busy"] = True
        try:
            body: dict[str, Any] = {"reason": f"负载测试{action}"}
            if action == "amend":
                body = {"surface": {f: f"变更{lic['n']}-{lic['k']}" for f in self.fields}}
            elif action == "renew":
                far = timezone.localdate() + timedelta(days=3 * 365 + 30 * (lic["k"] + 1))
                body = {"valid_to": far.isoformat()}
            r = self.post(f"licenses/{lic['id']}/{action}/", body)
            if r.status_code != 200:
                errors.append(f"{self.lib.name} {action} {r.status_code} {r.text[:200]}")
                return True
            answer = r.json()["license"]
            with self.lock:
                lic.update(id=answer["identifier"], status=answer["status"], k=lic["k"] + 1)
            self.count(action)
            return True
        finally:
            lic["busy"] = False

    def bulk(self, size: int, errors: list[str]) -> None:
        items = [fedlib.item(self.lib, self.fields, i) for i in self.next_numbers(size)]
        r = self.post("licenses/batches/", {"mode": "bulk", "items": items})
        if r.status_code != 202:
            errors.append(f"{self.lib.name} bulk {r.status_code} {r.text[:200]}")
            return
        self.count("bulk_issue", size)

    def qr_token(self, errors: list[str]) -> None:
        with self.lock:
            fit = [x for x in self.licences if x["status"] == "valid"]
        if not fit:
            return
        lic = random.choice(fit)
        r = self.post(f"licenses/{lic['id']}/qr-token/", {})
        if r.status_code not in (200, 201):
            errors.append(f"{self.lib.name} qr-token {r.status_code} {r.text[:200]}")
            return
        with self.lock:
            self.tokens = ([r.json()["token"]] + self.tokens)[:50]


class Load:
    def __init__(self, args: Any, hub: Any, nodes: list[Any], sim_types: dict[str, str]) -> None:
        self.args, self.hub = args, hub
        self.nodes = [Node(n) for n in nodes]
        self.sim_types = sim_types
        self.errors: list[str] = []
        self.query_ms: list[float] = []
        self.verify_ms: dict[str, list[float]] = {"node": [], "hub": []}
        self.query_hits = 0
        hub_creds = hub.credentials()
        self.consumer = hub_creds["consumer"]
        self.admin_token = hub_creds["admin"]["token"]
        self.matter = ""
        self.session = client()
        self.started = 0.0

    def grant_all(self) -> None:
        """The hub's consumer may use every city's licence type for one matter (the hub
        administrator's grant API), once each type has reached the hub."""
        types = [fedlib.issuer(n.lib)["type_codes"][0] for n in self.nodes]
        types += list(self.sim_types.values())
        fedlib.wait_until(
            lambda: (
                self.hub.sql(
                    "SELECT count(*) FROM catalog_licensetype WHERE type_code = ANY(%s)", (types,)
                )[0][0]
                == len(types)
            ),
            timeout=120,
            message="every city's type at the hub",
        )
        rows = self.hub.sql(
            "SELECT related_matters FROM catalog_licensetype WHERE type_code = %s", (types[0],)
        )
        self.matter = rows[0][0][0]["code"]
        for type_code in types:
            r = self.session.post(
                f"{self.hub.url}/api/v1/grants/",
                json={
                    "agency_code": self.consumer["agency_code"],
                    "type_code": type_code,
                    "matter_code": self.matter,
                },
                headers=fedlib.auth(self.admin_token),
                timeout=30,
            )
            assert r.status_code == 201, r.text

    # --- the clients -------------------------------------------------------------------

    def node_step(self, n: int) -> None:
        node = self.nodes[n % len(self.nodes)]
        kind = random.choices(list(NODE_MIX), weights=list(NODE_MIX.values()))[0]
        try:
            if kind == "issue" or not node.change(kind, self.errors):
                node.issue(self.errors)
            if random.random() < 0.1:  # the issuing system hands a QR code to the holder
                node.qr_token(self.errors)
        except requests.RequestException as exc:
            self.errors.append(f"{node.lib.name} {kind} {exc}")

    def bulk_step(self, n: int) -> None:
        node = self.nodes[n % len(self.nodes)]
        try:
            node.bulk(self.args.bulk_size, self.errors)
        except requests.RequestException as exc:
            self.errors.append(f"{node.lib.name} bulk {exc}")

    def query(self, n: int) -> None:
        elapsed = time.monotonic() - self.started
        # A holder of some city, issued since the start (or not yet: an empty answer is one)
        if n % 2 and self.nodes:
            node = random.choice(self.nodes)
            i = random.randrange(max(1, node.counter))
            code = make_uscc(dept="91", area=node.lib.code, body=f"R{i:07d}")
        else:
            city = random.choice(list(self.sim_types))
            code = holder_code(city, random.randrange(1, 2 + int(elapsed * self.args.sim_rate / 2)))
        body = {
            "holder": {"code": code, "code_type": "001"},
            "matter_code": self.matter,
            "use_cause": "负载测试：办理食品经营相关事项，核验许可证",
        }
        t0 = time.monotonic()
        try:
            r = self.session.post(
                f"{self.hub.url}/api/v1/share/query/",
                json=body,
                headers=fedlib.auth(self.consumer["token"]),
                timeout=30,
            )
        except requests.RequestException as exc:
            self.errors.append(f"query {exc}")
            return
        self.query_ms.append((time.monotonic() - t0) * 1000)
        if r.status_code != 200:
            self.errors.append(f"query {r.status_code} {r.text[:200]}")
        elif r.json().get("count"):
            self.query_hits += 1

    def verify(self, n: int) -> None:
        node = self.nodes[(n // 2) % len(self.nodes)]  # each node's codes, here and at the hub
        tokens = node.tokens
        if not tokens:
            return
        where = "hub" if n % 2 else "node"
        base = self.hub.url if where == "hub" else node.lib.url
        t0 = time.monotonic()
        try:
            r = self.session.get(f"{base}/api/v1/public/verify/{random.choice(tokens)}", timeout=30)
        except requests.RequestException as exc:
            self.errors.append(f"verify {exc}")
            return
        self.verify_ms[where].append((time.monotonic() - t0) * 1000)
        if r.status_code != 200:
            self.errors.append(f"verify {where} {r.status_code} {r.text[:200]}")

    def run(self, seconds: float) -> None:
        self.started = time.monotonic()
        rate = self.args.node_rate * len(self.nodes)
        clients = [
            Paced(rate, self.node_step),
            Paced(
                len(self.nodes) / self.args.bulk_every if self.args.bulk_every else 0,
                self.bulk_step,
                workers=2,
            ),
            Paced(self.args.query_rate, self.query),
            Paced(self.args.verify_rate, self.verify),
        ]
        threads = [threading.Thread(target=c.run, args=(seconds,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.elapsed = time.monotonic() - self.started

    # --- the figures ---------------------------------------------------------------------

    def lags(self, code: str, committed: dict[tuple[str, int], float]) -> dict[str, float]:
        at_hub = {(k, s): t for k, s, t in self.hub.sql(LAG_SQL, (code,))}
        values = [at_hub[key] - t for key, t in committed.items() if key in at_hub]
        missing = len([k for k in committed if k not in at_hub])
        return {**percentiles(values), "not_at_hub": missing}

    def report(self, sim: dict[str, Any]) -> dict[str, Any]:
        cities: dict[str, Any] = {}
        start_epoch = time.time() - (time.monotonic() - self.started)
        for node in self.nodes:
            committed = {
                (k, s): t for k, s, t in node.lib.sql(LAG_SQL, (node.lib.code,)) if t >= start_epoch
            }
            cities[node.lib.code] = {
                "kind": "real",
                "counts": node.counts,
                "events": len(committed),
                "lag_s": self.lags(node.lib.code, committed),
                "reconcile": fedlib.reconcile(self.hub, node.lib),
            }
        for code, data in sim["cities"].items():
            committed = {(k, s): t for k, s, t in data["committed"]}
            cities[code] = {
                "kind": "simulated",
                "counts": data["counts"],
                "events": data["events"],
                "lag_s": self.lags(code, committed),
                "reconcile": data["reconcile"],
            }
            self.errors += [f"{code} {e}" for e in data["errors"]]
        self.errors += [f"downward {e}" for e in sim["downward"]["errors"]]
        totals: dict[str, int] = {}
        for city in cities.values():
            for kind, n in city["counts"].items():
                totals[kind] = totals.get(kind, 0) + n
        lag_missing = sum(c["lag_s"]["not_at_hub"] for c in cities.values())
        if lag_missing:
            self.errors.append(f"{lag_missing} committed events never reached the hub")
        return {
            "seconds": round(self.elapsed, 1),
            "throughput_per_s": {k: round(v / self.elapsed, 2) for k, v in sorted(totals.items())},
            "changes_total": totals,
            "events_total": sum(c["events"] for c in cities.values()),
            "cities": cities,
            "query_ms": percentiles(self.query_ms) | {"with_results": self.query_hits},
            "verify_ms": {k: percentiles(v) for k, v in self.verify_ms.items()},
            "downward_received": sim["downward"]["kinds"],
            # Envelopes the hub took from each city: a sender's duplicates are events it sent
            # again (a timeout it retried after the hub had applied them).
            "hub_envelopes": {
                sender: {"envelopes": n, "applied": a, "duplicates": d, "refused": r}
                for sender, n, a, d, r in self.hub.sql(
                    "SELECT sender, count(*), sum(applied), sum(duplicates), "
                    "count(*) FILTER (WHERE outcome = 'refused') "
                    "FROM federation_receivedenvelope GROUP BY sender ORDER BY sender"
                )
            },
            "hub_outbox_unacknowledged": dict(
                self.hub.sql(
                    "SELECT stream, count(*) FROM federation_outboxevent "
                    "WHERE state <> 'acknowledged' GROUP BY stream"
                )
            ),
            "errors": self.errors,
            "errors_total": len(self.errors),
            "differences_total": sum(c["reconcile"]["differences"] for c in cities.values()),
        }
