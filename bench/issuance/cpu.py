"""CPU per licence of the issuance pipeline, in one process, next to the bare render + sign.

    .venv/bin/python bench/issuance/cpu.py --count 100 [--profile issue|render]

Rates on a shared machine mislead; CPU seconds much less so. This issues N licences through
API v1 (Django's full request stack, in-process, the render task published to Redis as
deployed), then runs the signing worker's service on each file row in the same process, then
renders and signs the very same documents bare. It prints, per licence, the CPU of this
process (`process_time`) and of its PostgreSQL backend (`/proc/<pid>/stat`, the database
runs on this host), and the queries of each step. `--profile` runs one step under
cProfile instead. It recreates a scratch database (`--database`, default
`elicense_bench_cpu`) and purges the `signing` queue of its Redis db (`--redis-db`, 12) after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.issuance.run import ENV  # noqa: E402

ENV = {**ENV, "FILES_ROOT": str(ROOT / "var" / "bench" / "files-cpu")}


def _backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a PostgreSQL backend on this host."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(
    label: str, steps: list[Callable[[], object]], pid: int, per: int = 0
) -> dict[str, float]:
    from django.db import connection

    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    # A wrapper rather than CaptureQueriesContext: a request's start clears `queries_log`.
    with connection.execute_wrapper(count):
        steps[0]()  # one more, outside the timing, to count its queries
    db_before, began = _backend_cpu(pid), time.process_time()
    for step in steps[1:]:
        step()
    cpu, db = time.process_time() - began, _backend_cpu(pid) - db_before
    n = per or len(steps) - 1
    figures = {
        "cpu_ms": round(cpu * 1000 / n, 2),
        "db_ms": round(db * 1000 / n, 2),
        "queries": len(queries),
    }
    print(f"{label:<28} {figures}", flush=True)
    if os.environ.get("BENCH_SHOW_QUERIES"):
        print("\n".join(f"    {sql[:160]}" for sql in queries))
    return figures


def main() -> None:  # noqa: PLR0915 - a script, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--profile", choices=["issue", "render", "drain"])
    parser.add_argument("--database", default="elicense_bench_cpu", help="scratch, recreated")
    parser.add_argument("--redis-db", type=int, default=12)
    args = parser.parse_args()
    db = args.database
    os.environ.update(ENV)
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db}"
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{args.redis_db}"
    os.chdir(ROOT)
    for sql in (f"DROP DATABASE IF EXISTS {db} WITH (FORCE)", f"CREATE DATABASE {db}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)
    subprocess.run([sys.executable, "manage.py", "node", "migrate", "-v", "0"], check=True)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from bench.hostload import host_load
    from bench.issuance.seed import issue_body, seed
    from municipal_node.celery import app
    from shared.crypto.pdfsign import sign_pdf
    from shared.files import documents, drain, keystore, signing
    from shared.files.models import LicenseFile
    from shared.files.render import render_license_pdf
    from shared.licenses.models import License, LicenseVersion

    agency, user, secret, license_type = seed()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def issue(i: int) -> None:
        body = issue_body(license_type, i)
        response = client.post("/api/v1/licenses/", json.dumps(body), "application/json")
        assert response.status_code == 201, response.content

    def render(pk: int) -> None:
        assert signing.license_file_render(file_id=pk).state == "ready"

    font = keystore.font_path()
    signer = keystore.seal_signer(keystore.seal_for(agency=agency))

    def bare(doc: documents.LicenseDocument) -> None:
        page = render_license_pdf(doc, font_path=font)
        sign_pdf(page.pdf, seal=signer, box=page.seal_box, reason="电子证照签发")

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    for i in range(5):  # warm-up: imports, caches, the signer, the connection
        issue(i)
    for pk in LicenseFile.objects.values_list("pk", flat=True):
        render(pk)
    n = args.count + 1
    if args.profile == "issue":
        _profile([lambda i=i: issue(i) for i in range(100, 100 + n)])
        return
    host_load("before")
    issued = _measure("issue call", [lambda i=i: issue(i) for i in range(100, 100 + n)], pid)
    pending = list(LicenseFile.objects.filter(state="pending").values_list("pk", flat=True))
    if args.profile == "render":
        _profile([lambda pk=pk: render(pk) for pk in pending])
        return
    if args.profile == "drain":
        _profile([drain.license_files_drain])
        return
    # The deployed path: drains of FILES_DRAIN_BATCH; beside it, one task per file.
    for pk in pending[n // 2 :]:
        LicenseFile.objects.filter(pk=pk).update(claimed_at=timezone.now())  # held back
    half = n // 2
    rendered = _measure(
        "worker drain (batches)",
        [lambda: drain.license_files_drain(batch=1, seconds=1e-9), drain.license_files_drain],
        pid,
        per=half - 1,
    )
    per_file = _measure(
        "worker, a task per file", [lambda pk=pk: render(pk) for pk in pending[half:]], pid
    )
    docs = []
    for lic in License.objects.filter(number__gte="JY14101000000100").select_related(
        "license_type", "issuer"
    ):
        row = LicenseFile.objects.get(identifier=lic.identifier)
        qr = documents.QrToken(
            token="", url=row.qr_url, issued_at=timezone.now(), expires_at=row.qr_expires_at
        )
        version = LicenseVersion.objects.get(identifier=lic.identifier)
        docs.append(documents.license_document(lic=lic, version=version, qr=qr))
    bared = _measure("bare render + sign", [lambda d=d: bare(d) for d in docs], pid)
    host_load("after")
    overhead = issued["cpu_ms"] + issued["db_ms"] + rendered["cpu_ms"] + rendered["db_ms"]
    print(f"pipeline CPU per licence (API + worker + database): {overhead:.1f} ms")
    print(f"  of which above bare render + sign: {overhead - bared['cpu_ms']:.1f} ms")
    apart = per_file["cpu_ms"] + per_file["db_ms"] - rendered["cpu_ms"] - rendered["db_ms"]
    print(f"  (a task per file instead of drains: {apart:+.1f} ms per licence)")
    app.connection_for_write().default_channel.queue_purge("signing")


def _profile(steps: list[Callable[[], object]]) -> None:
    import cProfile
    import pstats

    with cProfile.Profile() as profiler:
        for step in steps:
            step()
    profiler.dump_stats(os.environ.get("BENCH_PROFILE_OUT", "/dev/null"))
    stats = pstats.Stats(profiler).strip_dirs().sort_stats("cumulative")
    stats.print_stats(60)


if __name__ == "__main__":
    main()
