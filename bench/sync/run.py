"""bench/sync: sustained issuing at two city nodes → the hub, over real HTTP and Celery.

    .venv/bin/python bench/sync/run.py [--rate 100] [--seconds 30] [--backlog 2000] [--batch 10] [--at 1]
                                       [--rounds 3] [--profile FILE]

Needs PostgreSQL and Redis on 127.0.0.1. Starts a hub and nodes 410100 and 410300 (gunicorn +
Celery worker each, databases cloned from freshly built templates) and measures, in one run:
  1. lag from commit at the node to visible at the hub (p50/p95/p99), issuing --rate licences a
     second in total through the nodes' API for --seconds (at 郑州 alone with --at 1);
  2. ingest rate: the hub drains a backlog of --backlog licences per node built while it was down,
     --rounds times (a drain of 2 × 2,000 lasts about a second, and single runs of the same code
     moved between 2,400 and 3,800 licences/s on this host); the median round is the rate;
  3. the baseline: COPY of the same rows (licences, versions, events) into the hub's tables,
     three times into fresh copies of its database; the median is the baseline.
"""

import argparse
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import os  # noqa: E402

import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "municipal_node.settings.test")
django.setup()

import psycopg  # noqa: E402
import requests  # noqa: E402

from bench import cpu_split  # noqa: E402
from tests.federation import fedlib  # noqa: E402
from tests.federation.harness import PG, Federation, build_templates, pg_admin, wait_until  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def sustained(fed: Federation, rate: float, seconds: float, batch: int, at: int = 2) -> list[float]:
    """Issue `rate` licences a second for `seconds` at the first `at` nodes in turn: one licence
    per API call (`batch` 1), or `batch` licences per bulk upload (`/api/v1/licenses/batches/`,
    processed by the node's worker), as an issuing system feeding the library would."""
    nodes = [fed["410100"], fed["410300"]][:at]
    fields = {n.name: fedlib.surface_fields(n) for n in nodes}
    sessions = {n.name: requests.Session() for n in nodes}
    for session in sessions.values():
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=32)
        session.mount("http://", adapter)
    interval = batch / rate  # one request every interval, to the nodes in turn
    counter = iter(range(10**9))
    lock = threading.Lock()
    errors = []

    def issue(node):
        with lock:
            numbers = [next(counter) for _ in range(batch)]
        items = [fedlib.item(node, fields[node.name], 100000 + i) for i in numbers]
        headers = fedlib.auth(fedlib.issuer(node)["token"])
        if batch == 1:
            r = sessions[node.name].post(
                f"{node.url}/api/v1/licenses/", json=items[0], headers=headers, timeout=30
            )
            ok = r.status_code == 201
        else:
            r = sessions[node.name].post(
                f"{node.url}/api/v1/licenses/batches/",
                json={"mode": "bulk", "items": items},
                headers=headers,
                timeout=30,
            )
            ok = r.status_code == 202
        if not ok:
            errors.append(r.text[:200])

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n * interval
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(issue, nodes[n % len(nodes)])
            n += 1
        submitted = time.monotonic() - start
    hub = fed["hub"]
    asked = n * batch

    def committed_at_nodes() -> int:
        return sum(
            node.sql("SELECT count(*) FROM licenses_license WHERE number LIKE 'R%%'")[0][0]
            for node in nodes
        )

    # Bulk uploads are processed after their request returns: wait until every one is in.
    wait_until(
        lambda: committed_at_nodes() >= asked - len(errors) * batch,
        timeout=300,
        interval=0.2,
        message="every licence asked for committed at the nodes",
    )
    for node in nodes:
        fedlib.wait_synced(hub, node, timeout=300)
    lags, first, last, total, per_node = [], None, None, 0, []
    for node in nodes:
        committed = dict(
            node.sql("SELECT identifier, created_at FROM licenses_license WHERE number LIKE 'R%%'")
        )
        visible = dict(
            hub.sql(
                "SELECT identifier, created_at FROM licenses_license WHERE number LIKE 'R%%' AND library_code = %s",
                (node.code,),
            )
        )
        lags += [(visible[k] - committed[k]).total_seconds() for k in committed if k in visible]
        total += len(committed)
        times = sorted(committed.values())
        span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
        per_node.append(f"{node.code} {len(times)} at {len(times) / max(span, 1e-9):.1f}/s")
        first = min([first, *committed.values()] if first else committed.values())
        last = max([last, *committed.values()] if last else committed.values())
    committed_rate = total / max((last - first).total_seconds(), 1e-9)
    print(
        f"sustained: asked {rate:.0f} licences/s for {seconds:.0f}s "
        f"({'one per API call' if batch == 1 else f'bulk uploads of {batch}'}; {n} requests in "
        f"{submitted:.0f}s); committed at the nodes: {total} licences at {committed_rate:.1f}/s; "
        f"errors {len(errors)} ({'; '.join(per_node)})",
        flush=True,
    )
    return lags


def backlog(fed: Federation, count: int, round_: int = 0, profile: str = "") -> tuple[float, int]:
    hub = fed["hub"]
    nodes = [fed["410100"], fed["410300"]]
    hub.stop("web")
    for k, node in enumerate(nodes):
        fedlib.issue_batch(node, count, start=500000 + (2 * round_ + k) * count)
    before = hub.count()
    expected = before + count * len(nodes)
    # Ingest is measured on a running hub: its second web process may still be importing the
    # application when the first answers /readyz, and that boot is not ingest's cost. The
    # nodes' workers (their relays) are held meanwhile, or their own retries start the drain.
    for node in nodes:
        os.killpg(node.procs["worker"].pid, signal.SIGSTOP)
    hub.start_web()
    hub.wait_ready()
    booted = time.monotonic()
    wait_until(lambda: _settled(hub), timeout=60, interval=0.1, message="hub's web processes idle")
    spy = _profile_start(hub, profile) if profile else None
    for node in nodes:
        os.killpg(node.procs["worker"].pid, signal.SIGCONT)
    # What an operator does once the hub is back: retry now rather than wait out the back-off
    # the outage built up (up to five minutes), so both streams drain at once.
    for node in nodes:
        response = requests.post(
            f"{node.url}/api/v1/federation/outbox/retry/",
            json={},
            headers=fedlib.auth(node.credentials()["admin"]["token"]),
            timeout=30,
        )
        assert response.status_code == 200, response.text
    # Ingest proper starts with the first envelope applied (not the hub's boot, nor the nodes'
    # back-off that the outage built up: those are reported apart).
    wait_until(lambda: hub.count() > before, timeout=300, interval=0.02, message="first envelope")
    groups = _cpu_groups(fed)
    t0, at_t0, cpu_t0 = time.monotonic(), hub.count(), cpu_split.snapshot(*groups)
    wait_until(
        lambda: hub.count() >= expected, timeout=900, interval=0.05, message="backlog drained"
    )
    done, cpu_done = time.monotonic(), cpu_split.snapshot(*groups)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    print(
        f"backlog: {expected - before} licences; first envelope applied {t0 - booted:.1f}s after "
        f"the hub came back; drained {done - booted:.1f}s after it (the nodes held until its web "
        "processes were up)",
        flush=True,
    )
    spent = cpu_split.difference(cpu_t0, cpu_done)
    print(cpu_split.report(spent, per=expected - at_t0, unit="licence ingested"), flush=True)
    return done - t0, expected - at_t0


def _profile_start(hub, path: str):  # type: ignore[no-untyped-def]
    """py-spy (on PATH, or PY_SPY) sampling the hub's web processes, raw collapsed stacks to
    `path` (the last round's, with --rounds): where the drain's time goes at the hub."""
    import subprocess

    spy = os.environ.get("PY_SPY", "py-spy")
    flags = os.environ.get("PY_SPY_FLAGS", "--idle").split()  # --gil: the GIL's holder only
    command = [spy, "record", "-f", "raw", "-r", "250", "-o", path, "--subprocesses", *flags]
    process = subprocess.Popen([*command, "-p", str(hub.procs["web"].pid)])
    time.sleep(1.0)  # attached before the drain starts
    return process


def _settled(lib) -> bool:  # type: ignore[no-untyped-def]
    """All of a library's web processes are up and none is busy (booting) over 0.3 s."""
    master = lib.procs["web"].pid
    children = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and cpu_split.parent(p.name) == master
    ]
    if len(children) < lib.web_workers:
        return False
    before = [cpu_split.seconds(p.name) for p in children]
    time.sleep(0.3)
    return all(cpu_split.seconds(p.name) - b < 0.03 for p, b in zip(children, before, strict=True))


def _cpu_groups(fed: Federation) -> tuple[dict[int, str], dict[str, str]]:
    """The processes of each library by role, and each library's database backends."""
    names = {"hub": "hub", "410100": "郑州", "410300": "洛阳"}
    sessions = {
        proc.pid: f"{names[lib.name]} {role}"
        for lib in fed.libs.values()
        for role, proc in lib.procs.items()
    }
    return sessions, {lib.db: f"{names[lib.name]} PostgreSQL" for lib in fed.libs.values()}


def copy_baseline(fed: Federation, rows: int, runs: int = 3) -> list[float]:
    """COPY the first `rows` licences the hub ingested (licences, versions, events) back into a
    copy of the hub's database from which they were removed: same tables, same indexes and
    trigger. `runs` times, each into a fresh copy (one run alone moves by tens of percent on a
    shared host)."""
    hub = fed["hub"]
    fed.stop()
    payloads = {}
    with psycopg.connect(PG + hub.db) as src:
        ids = [
            r[0]
            for r in src.execute(
                "SELECT id FROM licenses_license WHERE number LIKE 'R%%' ORDER BY id LIMIT %s",
                (rows,),
            )
        ]
        for table, where in (
            ("licenses_license", "id = ANY(%s)"),
            ("licenses_licenseversion", "license_id = ANY(%s)"),
            ("licenses_licenseevent", "license_id = ANY(%s)"),
        ):
            cols = [
                r[0]
                for r in src.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = %s ORDER BY ordinal_position",
                    (table,),
                )
            ]
            buf = bytearray()
            query = f"COPY (SELECT {', '.join(cols)} FROM {table} WHERE {where}) TO STDOUT (FORMAT BINARY)"
            with src.cursor().copy(query, (ids,)) as cp:
                for chunk in cp:
                    buf += chunk
            payloads[table] = (cols, bytes(buf))
    rates = []
    for _ in range(runs):
        pg_admin("DROP DATABASE IF EXISTS bench_sync_copy WITH (FORCE)")
        pg_admin(f"CREATE DATABASE bench_sync_copy TEMPLATE {hub.db}")
        with psycopg.connect(PG + "bench_sync_copy") as dst:
            with dst.transaction():
                for table in ("licenses_licenseevent", "licenses_licenseversion"):
                    dst.execute(f"DELETE FROM {table} WHERE license_id = ANY(%s)", (ids,))
                dst.execute("DELETE FROM licenses_license WHERE id = ANY(%s)", (ids,))
            t0 = time.monotonic()
            with dst.transaction():
                for table, (cols, data) in payloads.items():
                    with dst.cursor().copy(
                        f"COPY {table} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)"
                    ) as cp:
                        cp.write(data)
            rates.append(len(ids) / (time.monotonic() - t0))
    pg_admin("DROP DATABASE IF EXISTS bench_sync_copy WITH (FORCE)")
    return rates


# Passed on to the nodes when set, to compare envelope sizes (shared.federation.sizing):
# FEDERATION_BATCH_SIZE=500 FEDERATION_BATCH_MAX=500 sends envelopes of 500 events throughout.
ENVELOPE_SIZES = (
    "FEDERATION_BATCH_SIZE",
    "FEDERATION_BATCH_MIN",
    "FEDERATION_BATCH_MAX",
    "LOG_LEVEL",  # INFO: every envelope sent and received is logged
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--backlog", type=int, default=2000)
    parser.add_argument(
        "--at", type=int, choices=(1, 2), default=2, help="issue at 郑州 only (1) or both nodes"
    )
    parser.add_argument(
        "--batch", type=int, default=1, help="licences per request (1: the issue API; more: bulk)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="drains measured, each of a new backlog; their median is the ingest rate",
    )
    parser.add_argument(
        "--profile", default="", help="py-spy the hub's web processes during the drain to FILE"
    )
    args = parser.parse_args()
    from bench.hostload import host_load

    host_load("before")
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    templates = build_templates(work / "tpl", ["hub", "410100", "410300"])
    # As deployed: DEBUG off (no SQL capture on every query); the CA is made on first use.
    fed = Federation(
        work / "run",
        templates,
        ["hub", "410100", "410300"],
        DEBUG="0",
        FILES_PKI_AUTO_INIT="1",
        **{name: os.environ[name] for name in ENVELOPE_SIZES if name in os.environ},
    )
    for lib in fed.libs.values():
        # Rendering and sealing run on their own workers in production (the `signing` queue);
        # here they would take the two cores the exchange is measured on.
        lib.worker_queues = "default"
    # The hub takes envelopes from every city at once: one web process per core, as deployed.
    fed["hub"].web_workers = 2
    try:
        fed.start()
        for name in ("410100", "410300"):
            fedlib.wait_synced(fed["hub"], fed[name])
        lags = sustained(fed, args.rate, args.seconds, args.batch, args.at)
        print(
            f"lag commit→visible over {len(lags)} licences: p50 {percentile(lags, 50):.3f}s  "
            f"p95 {percentile(lags, 95):.3f}s  p99 {percentile(lags, 99):.3f}s  "
            f"max {max(lags):.3f}s  mean {statistics.mean(lags):.3f}s",
            flush=True,
        )
        rates = []
        for round_ in range(args.rounds):
            elapsed, drained = backlog(fed, args.backlog, round_, args.profile)
            rates.append(drained / elapsed)
            print(
                f"hub ingest, round {round_ + 1} (backlog of {drained} from two nodes): "
                f"{rates[-1]:.1f} licences/s",
                flush=True,
            )
        ingest_rate = statistics.median(rates)
        print(
            f"hub ingest, median of {len(rates)} rounds: {ingest_rate:.1f} licences/s "
            f"({', '.join(f'{r:.1f}' for r in rates)})",
            flush=True,
        )
        # The rows of the sustained phase and of the first round: the baseline of every run
        # before rounds were measured (one backlog of 2 × --backlog).
        copy_rates = copy_baseline(fed, len(lags) + 2 * args.backlog)
    finally:
        fed.stop()
    copy_rate = statistics.median(copy_rates)
    print(
        f"COPY baseline, the same rows into the hub's tables: {copy_rate:.1f} licences/s "
        f"(median of {', '.join(f'{r:.1f}' for r in copy_rates)})"
    )
    print(f"ingest / COPY: {ingest_rate / copy_rate * 100:.1f} %  (target >= 50 %)")
    host_load("after")


if __name__ == "__main__":
    main()
