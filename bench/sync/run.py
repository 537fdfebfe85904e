"""bench/sync: sustained issuing at two city nodes → the hub, over real HTTP and Celery.

    .venv/bin/python bench/sync/run.py [--rate 100] [--seconds 30] [--backlog 5000] [--batch 10] [--at 1]
                                       [--rounds 3] [--profile FILE]

Needs PostgreSQL and Redis on 127.0.0.1. Starts a hub and nodes 410100 and 410300 (gunicorn +
Celery worker each, databases cloned from freshly built templates) and measures, in one run:
  1. lag from commit at the node to visible at the hub (p50/p95/p99), issuing --rate licences a
     second in total through the nodes' API for --seconds (at 郑州 alone with --at 1);
  2. ingest rate: the hub drains a backlog of --backlog licences per node built while it was down,
     --rounds times; the median round is the rate. A round's rate is the hub's own record of the
     envelopes it applied (`ReceivedEnvelope`): the events after the first envelope over the
     time from the first to the last (--backlog 5000: some ten envelopes of 1,000 a node; a
     drain of 2 × 2,000 was three or four, and single runs moved between 2,400 and 3,800/s);
  3. the baseline: COPY of the same rows (licences, versions, events) into the hub's tables,
     three times into fresh copies of its database; the median is the baseline.
Before the drain and before each COPY run no autovacuum is at work (`quiet_database`). The
hub runs two sync workers (BENCH_HUB_THREADS=8: threaded, as before 2026-12-06's twelfth
session).
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


BULK_MAX = 5000


def backlog(fed: Federation, count: int, round_: int = 0, profile: str = "") -> tuple[float, int]:
    hub = fed["hub"]
    nodes = [fed["410100"], fed["410300"]]
    hub.stop("web")
    for k, node in enumerate(nodes):
        first = 500000 + (2 * round_ + k) * count
        for done in range(0, count, BULK_MAX):  # one bulk upload holds 5,000 at most
            fedlib.issue_batch(node, min(BULK_MAX, count - done), start=first + done)
    before = hub.count()
    expected = before + count * len(nodes)
    # Ingest is measured on a running hub: its second web process may still be importing the
    # application when the first answers /readyz, and that boot is not ingest's cost. The
    # nodes' workers (their relays) are held meanwhile, or their own retries start the drain;
    # held between attempts, as a relay held in one wrote its failure after the operator's
    # retry and put its rows back into a back-off of seconds (a round of 7.4 s).
    for node in nodes:
        wait_until(lambda node=node: _relay_idle(node, hub.code), timeout=60, interval=0.05)
        os.killpg(node.procs["worker"].pid, signal.SIGSTOP)
    hub.start_web()
    hub.wait_ready()
    booted = time.monotonic()
    wait_until(lambda: _settled(hub), timeout=60, interval=0.1, message="hub's web processes idle")
    spy = _profile_start(hub, profile) if profile else None
    # Progress is read on one open connection from the hub's inbound cursors (0.2 ms): a count
    # of the partitioned licence table on a new connection each time cost 41 ms of the two
    # cores being measured, twenty times a second. The rate itself comes from the hub's record
    # of the envelopes it applied, not from when this process happened to look.
    targets = {n.code: _numbered(n, hub.code) for n in nodes}
    quiet_database()
    with psycopg.connect(PG + hub.db, autocommit=True) as watch:
        marks, seen = _marks(watch, list(targets)), _last_envelope(watch)
        _resume(nodes, watch, targets)
        wait_until(
            lambda: _marks(watch, list(targets)) > marks,
            timeout=300,
            interval=0.02,
            message="first envelope",
        )
        groups = _cpu_groups(fed)
        at_first, cpu_t0 = _marks(watch, list(targets)), cpu_split.snapshot(*groups)
        wait_until(
            lambda: _drained(watch, targets),
            timeout=900,
            interval=0.02,
            message="backlog drained",
        )
        done, cpu_done = time.monotonic(), cpu_split.snapshot(*groups)
        at_done = _marks(watch, list(targets))
        assert _count(watch) >= expected, "every licence of the backlog at the hub"
        elapsed, drained, envelopes = _applied_since(watch, seen, list(targets))
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    print(
        f"backlog: {expected - before} licences in {envelopes} envelopes; drained "
        f"{done - booted:.1f}s after the hub came back (the nodes held until its web processes "
        "were up)",
        flush=True,
    )
    spent = cpu_split.difference(cpu_t0, cpu_done)
    print(cpu_split.report(spent, per=at_done - at_first, unit="licence ingested"), flush=True)
    return elapsed, drained


def _numbered(node, stream: str) -> int:  # type: ignore[no-untyped-def]
    """The last sequence number `node` handed out on `stream`."""
    return node.sql("SELECT last FROM federation_streamcounter WHERE stream = %s", (stream,))[0][0]


def _retry(node) -> None:  # type: ignore[no-untyped-def]
    """What an operator does once the hub is back: retry now rather than wait out the back-off
    the outage built up (up to five minutes)."""
    response = requests.post(
        f"{node.url}/api/v1/federation/outbox/retry/",
        json={},
        headers=fedlib.auth(node.credentials()["admin"]["token"]),
        timeout=30,
    )
    assert response.status_code == 200, response.text


def _resume(nodes, watch, targets: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
    """Both streams drain at once: the retries are asked while the nodes' workers are held,
    then both go on together (one stream draining alone for its first second was the slowest
    round). A stream that has not moved after two seconds is asked again."""
    for node in nodes:
        _retry(node)
    marks = _stream_marks(watch, list(targets))
    for node in nodes:
        os.killpg(node.procs["worker"].pid, signal.SIGCONT)
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        moved = _stream_marks(watch, list(targets))
        if all(moved.get(code, 0) > marks.get(code, 0) for code in targets):
            return
        time.sleep(0.02)
    for node in nodes:
        if moved.get(node.code, 0) <= marks.get(node.code, 0):
            _retry(node)


def _relay_idle(node, stream: str) -> bool:  # type: ignore[no-untyped-def]
    """No relay holds `stream`'s lease at `node`."""
    rows = node.sql(
        "SELECT lease_owner = '' OR lease_until IS NULL OR lease_until < now() "
        "FROM federation_streamstate WHERE stream = %s",
        (stream,),
    )
    return not rows or rows[0][0]


def _stream_marks(conn, senders: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(
        conn.execute(
            "SELECT sender, high_water_mark FROM federation_inboundcursor WHERE sender = ANY(%s)",
            (senders,),
        ).fetchall()
    )


def _marks(conn, senders: list[str]) -> int:  # type: ignore[no-untyped-def]
    row = conn.execute(
        "SELECT coalesce(sum(high_water_mark), 0) FROM federation_inboundcursor "
        "WHERE sender = ANY(%s)",
        (senders,),
    ).fetchone()
    return int(row[0])


def _drained(conn, targets: dict[str, int]) -> bool:  # type: ignore[no-untyped-def]
    """Every node's stream applied up to its last number (the licences commit with the mark)."""
    marks = _stream_marks(conn, list(targets))
    return all(marks.get(code, 0) >= last for code, last in targets.items())


def _last_envelope(conn) -> int:  # type: ignore[no-untyped-def]
    return conn.execute("SELECT coalesce(max(id), 0) FROM federation_receivedenvelope").fetchone()[
        0
    ]


def _applied_since(conn, after: int, senders: list[str]) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    """(seconds from the first envelope applied to the last, events applied after the first,
    envelopes): ingest's rate as the hub recorded it."""
    rows = conn.execute(
        "SELECT received_at, applied FROM federation_receivedenvelope "
        "WHERE id > %s AND sender = ANY(%s) AND outcome = 'applied' ORDER BY received_at",
        (after, senders),
    ).fetchall()
    assert len(rows) >= 2, f"the drain took {len(rows)} envelope: make --backlog bigger"
    seconds = (rows[-1][0] - rows[0][0]).total_seconds()
    return seconds, sum(applied for _, applied in rows[1:]), len(rows)


def _count(conn) -> int:  # type: ignore[no-untyped-def]
    return conn.execute("SELECT count(*) FROM licenses_license").fetchone()[0]


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


def quiet_database() -> None:
    """No autovacuum at work, before the drain and before each COPY run alike. (Not a
    checkpoint: the first change to each page after one writes the whole page to the WAL, and
    COPY runs right after a checkpoint went at 7,707–9,060 licences/s against 10,161–11,405
    without, 08:05–08:15.)"""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with psycopg.connect(PG + "postgres", autocommit=True) as conn:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()[0]
        if not busy:
            return
        time.sleep(0.2)


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
            quiet_database()
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
    parser.add_argument("--backlog", type=int, default=5000)
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
    # The hub takes envelopes from every city at once: one process per core, sync workers, as
    # its exchange pool is deployed (deploy/systemd/elicense-hub-exchange-web.service): with
    # threaded workers two cities' envelopes often shared one process and its GIL.
    # BENCH_HUB_THREADS=8 measures the threaded pool for comparison.
    fed["hub"].web_workers = int(os.environ.get("BENCH_HUB_WORKERS", "2"))
    fed["hub"].web_threads = int(os.environ.get("BENCH_HUB_THREADS", "1"))
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
