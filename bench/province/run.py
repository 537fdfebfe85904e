"""bench/province: the 18 Henan cities and the hub under load for --seconds (issue #16 item 6).

    .venv/bin/python bench/province/run.py [--seconds 600] [--real 2] [--json out.json]

Needs PostgreSQL and Redis on 127.0.0.1 (databases `elicense_bench_prov_*`, dropped at the
end; Redis numbers 1–3). Starts a hub and `--real` city nodes (410100, 410300: gunicorn +
Celery worker each, as bench/sync does); the other cities of `shared.conf.divisions.CITIES`
are simulated by one process (bench/province/simulator.py) that holds each city's exchange
key, registered at the hub with `hub federation add-peer` as a joining node's is, and speaks
the signed exchange protocol with the project's own envelope and snapshot code. Meanwhile:

- the real nodes issue and change licences through their HTTP API at --node-rate each
  (plus a bulk upload of --bulk-size every --bulk-every seconds) while their relays run;
- the simulated cities make --sim-rate changes a second each, plus bulk uploads alike;
- a consumer queries through the hub (`POST /api/v1/share/query/`, purpose-bound) at
  --query-rate, and the public verifies QR codes (`GET /api/v1/public/verify/<token>`, at the
  issuing node and at the hub in turn) at --verify-rate: bounded thread-pool clients.

Reported (printed, and with --json as JSON): throughput per kind, sync lag per city (node
commit → the hub's event row) p50/p95/p99/max, query and verify latency percentiles, every
error, and a reconciliation per city (real nodes: `hub reconcile --node`; simulated ones: the
node side of the same protocol, run by the simulator), and the host load before, during, after.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "municipal_node.settings.test")
django.setup()

from bench.hostload import host_load  # noqa: E402
from bench.province import load  # noqa: E402
from bench.province.procs import REAL_CITIES, build, drop  # noqa: E402
from shared.conf.divisions import CITIES  # noqa: E402
from tests.federation import fedlib  # noqa: E402
from tests.federation.harness import free_port, wait_until  # noqa: E402

SIMULATOR = ROOT / "bench" / "province" / "simulator.py"


def register_simulated(hub, keydir: Path, cities: list[str]) -> None:  # type: ignore[no-untyped-def]
    """`hub federation add-peer --file <city>.json` for every simulated city, four at a time
    (each is a Django start-up: seconds on two busy cores)."""
    for start in range(0, len(cities), 4):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "manage.py"),
                    "hub",
                    "federation",
                    "add-peer",
                    "--file",
                    str(keydir / f"{code}.json"),
                ],
                env=hub.env(),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for code in cities[start : start + 4]
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-2000:]


def start_simulator(args, hub, node, keydir: Path, work: Path, cities, sim_port: int):  # type: ignore[no-untyped-def]
    env = node.env()  # a node's settings; it only reads this node's licence type
    env["VAR_DIR"] = str(work / "sim")
    return subprocess.Popen(
        [
            sys.executable,
            str(SIMULATOR),
            "run",
            "--dir",
            str(keydir),
            "--cities",
            *cities,
            "--hub",
            hub.url,
            "--hub-key",
            str(hub.workdir / "key.json"),
            "--port",
            str(sim_port),
            "--template-type",
            fedlib.issuer(node)["type_codes"][0],
            "--rate",
            str(args.sim_rate),
            "--bulk-every",
            str(args.bulk_every),
            "--bulk-size",
            str(args.bulk_size),
            "--seconds",
            str(args.seconds),
            "--ready",
            str(work / "sim-ready.json"),
            "--out",
            str(work / "sim-result.json"),
            "--stop",
            str(work / "sim-stop"),
        ],
        env=env,
        cwd=ROOT,
        stdout=open(work / "simulator.log", "ab"),  # noqa: SIM115 - lives as long as the run
        stderr=subprocess.STDOUT,
    )


def start_signing(lib) -> None:  # type: ignore[no-untyped-def]
    """Rendering and sealing on a worker of their own (the `signing` queue), as deployed: on
    the node's one worker they held up its relay behind every PDF under load."""
    lib._spawn(
        "signing",
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            lib.module,
            "worker",
            "--concurrency",
            "1",
            "-Q",
            "signing",
            "--loglevel",
            "WARNING",
            "-n",
            f"{lib.name}-signing@%h",
        ],
    )


def print_report(report: dict[str, Any]) -> None:
    if "cities" not in report:
        print("no figures (the run failed before the end)")
        return
    print(f"\nprovince: {report['seconds']}s, {report['events_total']} licence events in all")
    print(
        "throughput (changes/s): "
        + "  ".join(f"{k} {v}" for k, v in report["throughput_per_s"].items())
    )
    print(
        f"{'city':8} {'kind':9} {'events':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} "
        f"{'diffs':>5}"
    )
    for code, c in sorted(report["cities"].items()):
        lag = c["lag_s"]
        print(
            f"{code:8} {c['kind']:9} {c['events']:7} {lag.get('p50', '-'):>7} "
            f"{lag.get('p95', '-'):>7} {lag.get('p99', '-'):>7} {lag.get('max', '-'):>7} "
            f"{c['reconcile']['differences']:5}"
        )
    print(f"query (hub, ms): {report['query_ms']}")
    print(f"verify (ms): {report['verify_ms']}")
    print(f"hub → simulated cities (downward events received): {report['downward_received']}")
    print(f"hub outbox not yet acknowledged, by stream: {report['hub_outbox_unacknowledged']}")
    dup = {k: v["duplicates"] for k, v in report["hub_envelopes"].items() if v["duplicates"]}
    print(f"events sent again after a timeout (duplicates at the hub), by city: {dup or 0}")
    print(f"errors: {report['errors_total']}")
    for e in report["errors"][:50]:
        print(f"  {e}")
    print(f"reconciliation differences: {report['differences_total']}")
    print(f"host load: {report['host_load']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--real", type=int, default=2, choices=[1, 2])
    parser.add_argument("--node-rate", type=float, default=4, help="API changes/s per real node")
    parser.add_argument("--sim-rate", type=float, default=1, help="changes/s per simulated city")
    parser.add_argument("--bulk-every", type=float, default=120)
    parser.add_argument("--bulk-size", type=int, default=50)
    parser.add_argument("--query-rate", type=float, default=10)
    parser.add_argument("--verify-rate", type=float, default=20)
    parser.add_argument("--json", default="")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        help="the libraries' LOG_LEVEL (INFO: every request and relay run in their logs)",
    )
    args = parser.parse_args()
    report: dict = {"args": vars(args), "host_load": {"before": host_load("before")}}
    work = Path(tempfile.mkdtemp(prefix="bench-province-"))
    print(f"work directory (logs): {work}", flush=True)
    real = list(REAL_CITIES[: args.real])
    simulated = [c for c in CITIES if c not in real]
    report["offered_per_s"] = offered = {
        "real_node_changes": args.node_rate * len(real),
        "simulated_changes": args.sim_rate * len(simulated),
        "bulk_licences": args.bulk_size * len(CITIES) / args.bulk_every if args.bulk_every else 0,
        "queries": args.query_rate,
        "verifications": args.verify_rate,
    }
    print(f"offered load a second: {offered}", flush=True)
    libs = build(
        work,
        ["hub", *real],
        {
            "DEBUG": "0",
            "FILES_PKI_AUTO_INIT": "1",
            # A consumer system makes many calls a minute here; the per-agency limit is a
            # guard against runaway clients, not what this bench measures.
            "ACCESS_RATE_PER_MINUTE": "1000000",
            "ACCESS_MISS_PER_MINUTE": "1000000",
            # The production default (the federation tests' harness sets 10 s): under this
            # load an envelope of 200 events took the hub longer than 10 s to apply, the node
            # timed out, backed off and sent it again (duplicates, and lag).
            "FEDERATION_HTTP_TIMEOUT": "30",
            "LOG_LEVEL": args.log_level,
        },
    )
    hub, nodes = libs["hub"], [libs[c] for c in real]
    hub.web_workers = 2  # one web process per core, as deployed (bench/sync)
    for node in nodes:
        node.worker_queues = "default"  # the `signing` queue has its own worker (start_signing)
    keydir = work / "sim-keys"
    sim_port = free_port()
    subprocess.run(
        [
            sys.executable,
            str(SIMULATOR),
            "keygen",
            "--dir",
            str(keydir),
            "--url",
            f"http://127.0.0.1:{sim_port}",
            "--cities",
            *simulated,
        ],
        check=True,
        cwd=ROOT,
    )
    register_simulated(hub, keydir, simulated)
    sim = None
    try:
        for lib in libs.values():
            lib.start_web()
            lib.start_worker()
            if lib.tier == "node":
                start_signing(lib)
        for lib in libs.values():
            lib.wait_ready()
        for node in nodes:
            fedlib.wait_synced(hub, node)
        sim = start_simulator(args, hub, nodes[0], keydir, work, simulated, sim_port)
        wait_until(
            lambda: (work / "sim-ready.json").exists() or sim.poll() is not None,
            timeout=300,
            message="simulated catalogues at the hub",
        )
        assert sim.poll() is None, (work / "simulator.log").read_text()[-3000:]
        sim_types = json.loads((work / "sim-ready.json").read_text())
        bench = load.Load(args, hub, nodes, sim_types)
        bench.grant_all()
        during = threading.Timer(
            args.seconds / 2,
            lambda: report["host_load"].update(during=host_load("during (half-way)")),
        )
        during.start()
        bench.run(args.seconds)
        wait_until(
            lambda: (work / "sim-result.json").exists() or sim.poll() is not None,
            timeout=900,
            message="the simulated cities drained and reconciled",
        )
        result = json.loads((work / "sim-result.json").read_text())
        for node in nodes:
            fedlib.wait_synced(hub, node, timeout=600)
        # The hub's own streams (records of use going down to every city) drained too.
        fedlib.wait_synced(hub, hub, timeout=600)
        (work / "sim-stop").touch()
        sim.wait(timeout=60)
        result["downward"] = json.loads((work / "sim-result.json.downward").read_text())
        report.update(bench.report(result))
        report["host_load"]["after"] = host_load("after")
    finally:
        if sim is not None and sim.poll() is None:
            sim.kill()
        for lib in libs.values():
            lib.stop_all()
        if not args.keep:
            drop(libs)
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1))
    if report["errors_total"] or report["differences_total"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
