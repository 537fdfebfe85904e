"""The simulated cities of bench/province, all in this one process.

    simulator.py keygen --dir D --cities 410200 ...      # one exchange key per city (export-key JSON)
    simulator.py run --dir D --cities ... --hub URL --rate 2 --seconds 600 --out result.json

Each simulated city holds its own exchange key (registered at the hub with the real
`hub federation add-peer`, as a joining node is) and keeps its licences in memory. A change is
made as `shared.licenses` makes it — the status machine of `shared.domain.status`, the version
digest of `shared.licenses.records`, the row snapshots of `shared.federation.snapshots` — and
queued on the city's outbox with the next sequence number; a relay per city sends the outbox in
envelopes sealed by `shared.exchange.envelopes.seal_wire` over `shared.exchange.adapters.
HttpAdapter`, and resumes from the hub's high-water mark as `shared.federation.relay` does.
Nothing is written to a database here: Django is set up (settings of a city node, pointed at
a real node's database, which is only read: the licence type the simulated cities copy) for
the models and codecs.

At the end each city runs the node side of reconciliation with the same code the node's
reconcile uses: `shared.exchange.reconcile.compare` of its own digests (`MemoryDigests` over
`leaf_digest` and `bucket_keys`) with the hub's, fetched from `/api/v1/exchange/digests/` with
a request token signed by the city's key.
"""

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.province.city import PASSWORD, City  # noqa: E402


def keygen(directory: Path, cities: list[str], url: str) -> None:
    from shared.conf.divisions import CITIES
    from shared.crypto import suites

    suite = suites.get_suite("gm")
    directory.mkdir(parents=True, exist_ok=True)
    for code in cities:
        private = suite.generate_key()
        public = suite.public_key_of(private)
        exported = {
            "code": code,
            "name": f"{CITIES[code]}电子证照库（模拟）",
            "kid": suite.key_id(public),
            "suite": suite.name,
            "public_key_pem": suite.public_key_to_pem(public).decode(),
            "url": url,  # where the hub sends their downward streams (inbound.py)
        }
        (directory / f"{code}.json").write_text(json.dumps(exported, ensure_ascii=False))
        key = directory / f"{code}.key"
        key.write_bytes(suite.private_key_to_pem(private, PASSWORD))
        key.chmod(0o600)


def relay_loop(cities: list[City], stop: threading.Event) -> None:
    from concurrent.futures import ThreadPoolExecutor

    # One relay per city at a time, each on its own thread: every node runs its own relay.
    with ThreadPoolExecutor(max_workers=len(cities)) as pool:
        while not stop.is_set():
            for city in cities:
                if city.outbox and not city.sending:
                    city.sending = True
                    pool.submit(city.relay)
            time.sleep(0.2)  # shared.federation.outbox.KICK_INTERVAL


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from shared.catalog.models import LicenseType

    template = LicenseType.objects.select_related("issuer").get(type_code=args.template_type)
    cities = []
    for i, code in enumerate(args.cities):
        cities.append(
            City(code, i, Path(args.dir), LicenseType.objects.get(pk=template.pk), args.hub)
        )
    from django.db import connection

    connection.close()  # nothing more is read from the node's database
    from bench.province.inbound import Inbound

    hub_key = json.loads(Path(args.hub_key).read_text())["public_key_pem"]
    inbound = Inbound(list(args.cities), hub_key)
    server = inbound.serve(args.port)
    stop = threading.Event()
    relayer = threading.Thread(target=relay_loop, args=(cities, stop), daemon=True)
    relayer.start()
    for city in cities:
        city.publish_type()
    wait_drained(cities, 120)
    Path(args.ready).write_text(json.dumps({c.code: c.type.type_code for c in cities}))
    start = time.monotonic()
    interval = 1 / (args.rate * len(cities))
    n = 0
    next_bulk = {
        c.code: start + args.bulk_every * (i + 1) / len(cities) for i, c in enumerate(cities)
    }
    while time.monotonic() - start < args.seconds:
        time.sleep(max(0.0, start + n * interval - time.monotonic()))
        city = cities[n % len(cities)]
        city.step()
        now = time.monotonic()
        if args.bulk_every and now >= next_bulk[city.code]:
            city.bulk(args.bulk_size)
            next_bulk[city.code] = now + args.bulk_every
        n += 1
    generated = time.monotonic() - start
    drained = wait_drained(cities, 300)
    stop.set()
    result = {
        "seconds": generated,
        "drained_after": drained,
        "cities": {
            c.code: {
                "counts": c.counts,
                "events": c.seq,
                "acked": c.acked,
                "errors": c.errors,
                "type_code": c.type.type_code,
                "agency_code": c.agency.code,
                "committed": [[k, s, t] for (k, s), t in c.committed.items()],
                "reconcile": c.reconcile(),
            }
            for c in cities
        },
    }
    Path(args.out).write_text(json.dumps(result))
    # Keep receiving until the bench has seen the hub's downward streams drained too.
    deadline = time.monotonic() + 900
    while not Path(args.stop).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    server.shutdown()
    downward = {"kinds": inbound.kinds, "marks": inbound.marks, "errors": inbound.errors}
    Path(args.out + ".downward").write_text(json.dumps(downward))


def wait_drained(cities: list[City], timeout: float) -> float:
    start = time.monotonic()
    while any(c.outbox for c in cities) and time.monotonic() - start < timeout:
        time.sleep(0.1)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["keygen", "run"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--cities", nargs="+", required=True)
    parser.add_argument("--hub", default="")
    parser.add_argument("--url", default="", help="keygen: the simulated cities' address")
    parser.add_argument("--port", type=int, default=0, help="run: where to receive from the hub")
    parser.add_argument("--hub-key", default="", help="run: the hub's export-key JSON")
    parser.add_argument("--template-type", default="")
    parser.add_argument("--rate", type=float, default=2.0, help="single changes a second per city")
    parser.add_argument("--bulk-every", type=float, default=60.0)
    parser.add_argument("--bulk-size", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--ready", default="")
    parser.add_argument("--out", default="")
    parser.add_argument("--stop", default="", help="run: stop receiving once this file exists")
    args = parser.parse_args()
    if args.action == "keygen":
        keygen(Path(args.dir), args.cities, args.url)
    else:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "municipal_node.settings")
        run(args)


if __name__ == "__main__":
    main()
