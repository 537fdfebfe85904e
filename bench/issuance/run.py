"""Issuance benchmark: the full pipeline next to the bare render + sign cost, same run, same
number of processes.

    .venv/bin/python bench/issuance/run.py --count 200 --processes 2

Full pipeline: N licences issued through API v1 (Django's full request stack, in-process),
each rendered, sealed and stored by a real Celery worker (`-Q signing`, prefork, P processes);
timed from the first API call until the last file row is ready.
Bare: the very same documents (same fields, same QR URLs) rendered with reportlab and signed
with pyHanko by a pool of P processes, each keeping one signer, as the worker does.
The two alternate for `--rounds` rounds (the bare run on each round's documents, the signing
workers idle meanwhile); the median round's ratio is the figure, and the CPU each process group
spent on the pipeline is printed per licence.
It needs PostgreSQL and Redis on 127.0.0.1 (a scratch database `elicense_bench`, Redis db 12).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench import cpu_split  # noqa: E402

DB = "elicense_bench"
ENV = {
    "DJANGO_SETTINGS_MODULE": "municipal_node.settings",
    "DJANGO_ENV": "local",
    "NODE_CODE": "410100",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB}",
    "REDIS_URL": "redis://127.0.0.1:6379/12",
    "FILES_ROOT": str(ROOT / "var" / "bench" / "files"),
    "FILES_PUBLIC_BASE_URL": "https://zz.example.gov.cn",
    "LOG_LEVEL": "WARNING",
    # As deployed: DEBUG off (with it on, every query is also formatted and kept in memory).
    "DEBUG": "0",
    "ALLOWED_HOSTS": "testserver,localhost",
}


def reset_database() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}"):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", sql], check=True)
    subprocess.run(
        [sys.executable, "manage.py", "node", "migrate", "-v", "0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, **ENV},
    )


def _cpu_groups(workers: list[subprocess.Popen]) -> tuple[dict[int, str], dict[str, str]]:
    """Process groups for the CPU split: this process (the API calls), the signing workers
    (pool parent and children share a session), the bench database's backends."""
    sessions = {os.getsid(0): "API (this process)"}
    sessions.update({w.pid: "signing worker" for w in workers})
    return sessions, {DB: "PostgreSQL, bench database"}


# --- bare render + sign (pool workers) -----------------------------------------------------

_SEAL = None


def _pool_init(key_pem: bytes, cert_pem: str, ca_pem: str, seal_png: bytes, font: str) -> None:
    global _SEAL
    from cryptography.hazmat.primitives import serialization

    from shared.crypto.pdfsign import CachedKeySigner, SealSigner
    from shared.crypto.pki import certificate_from_pem
    from shared.files.render import register_font

    register_font(font)
    key = serialization.load_pem_private_key(key_pem, None)
    _SEAL = SealSigner(
        signer=CachedKeySigner(
            key=key, cert=certificate_from_pem(cert_pem), chain=[certificate_from_pem(ca_pem)]
        ),
        seal_png=seal_png,
        name="bench",
    )


def _render_sign(args: tuple) -> int:
    doc, font = args
    from shared.crypto.pdfsign import sign_pdf
    from shared.files.render import render_license_pdf

    page = render_license_pdf(doc, font_path=font)
    return len(sign_pdf(page.pdf, seal=_SEAL, box=page.seal_box, reason="电子证照签发"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--rounds", type=int, default=3, help="pipeline and bare, alternated")
    parser.add_argument(
        "--pool",
        choices=("prefork", "solo"),
        default="prefork",
        help="one prefork worker of P processes, or P single-process (solo) workers",
    )
    args = parser.parse_args()
    os.environ.update(ENV)
    os.chdir(ROOT)
    reset_database()

    import django
    from cryptography.hazmat.primitives import serialization

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.utils import timezone

    from bench.issuance.seed import issue_body, seed
    from shared.files import documents, keystore
    from shared.files.models import LicenseFile
    from shared.licenses.models import License, LicenseVersion

    agency, user, secret, license_type = seed()
    keystore.seal_for(agency=agency)

    def celery_worker(pool: str, concurrency: int, name: str) -> subprocess.Popen:
        return subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "municipal_node",
                "worker",
                "-Q",
                "signing",
                "-c",
                str(concurrency),
                "--pool",
                pool,
                # Signing tasks are short and acknowledged late: let each process hold the next
                # one so it never waits a broker round trip between two files.
                "--prefetch-multiplier",
                "4",
                "--loglevel",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
                "-n",
                f"{name}@%h",
            ],
            cwd=ROOT,
            env={**os.environ, **ENV},
            start_new_session=True,  # its own session: the CPU split groups its processes
        )

    if args.pool == "solo":  # one single-process worker per signing process, no pool parent
        workers = [celery_worker("solo", 1, f"bench{n}") for n in range(args.processes)]
    else:
        workers = [celery_worker("prefork", args.processes, "bench")]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def payload(i: int) -> dict:
        return issue_body(license_type, i)

    def issue_and_wait(start: int, count: int) -> float:
        began = time.perf_counter()
        for i in range(start, start + count):
            response = client.post(
                "/api/v1/licenses/", json.dumps(payload(i)), content_type="application/json"
            )
            assert response.status_code == 201, response.content
        while LicenseFile.objects.filter(state="pending").exists():
            time.sleep(0.02)
        elapsed = time.perf_counter() - began
        failed = LicenseFile.objects.filter(state="failed").count()
        assert failed == 0, LicenseFile.objects.filter(state="failed").values_list(
            "last_error", flat=True
        )[:3]
        return elapsed

    from bench.hostload import host_load
    from shared.files.seal_image import seal_png

    font = keystore.font_path()
    seal = keystore.seal_for(agency=agency)
    init = (
        keystore.private_key(seal).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        seal.certificate_pem,
        keystore.ca_active().certificate_pem,
        seal_png(agency.name, keystore.SEAL_CAPTION, font),
        font,
    )

    def documents_of(start: int, count: int) -> list:
        """The documents the pipeline signed for licences start … start + count - 1."""
        docs = []
        numbers = (f"JY141010{start:08d}", f"JY141010{start + count - 1:08d}")
        for lic in License.objects.filter(number__range=numbers).select_related(
            "license_type", "issuer"
        ):
            version = LicenseVersion.objects.get(identifier=lic.identifier)
            row = LicenseFile.objects.get(identifier=lic.identifier)
            qr = documents.QrToken(
                token="", url=row.qr_url, issued_at=timezone.now(), expires_at=row.qr_expires_at
            )
            docs.append(documents.license_document(lic=lic, version=version, qr=qr))
        assert len(docs) == count, len(docs)
        return docs

    def bare_seconds(docs: list) -> float:
        """The same documents rendered and signed bare, by a pool of P processes (the signing
        workers sit idle meanwhile: nothing is pending)."""
        with multiprocessing.get_context("fork").Pool(args.processes, _pool_init, init) as pool:
            pool.map(_render_sign, [(docs[0], font)] * (args.processes * 3))  # warm-up
            began = time.perf_counter()
            pool.map(_render_sign, [(d, font) for d in docs], chunksize=4)
            return time.perf_counter() - began

    loads = [host_load("before")]
    rounds: list[dict] = []
    spent_all: dict[str, float] = {}
    try:
        issue_and_wait(0, args.processes * 3)  # warm-up: every worker process loads its signer
        groups = _cpu_groups(workers)
        # Rounds alternate the pipeline and the bare run, so that a host that slows down or
        # speeds up between them moves both; the median ratio is the figure.
        for r in range(args.rounds):
            start = 1000 + r * args.count
            cpu_before = cpu_split.snapshot(*groups)
            parents_before = sum(cpu_split.seconds(str(w.pid)) for w in workers)
            full_seconds = issue_and_wait(start, args.count)
            spent = cpu_split.difference(cpu_before, cpu_split.snapshot(*groups))
            # The pool's parent (receives, dispatches and acknowledges tasks) apart.
            parents = sum(cpu_split.seconds(str(w.pid)) for w in workers) - parents_before
            spent["signing worker"] -= parents
            spent["signing worker, pool parent"] = parents
            for name, value in spent.items():
                spent_all[name] = spent_all.get(name, 0.0) + value
            time.sleep(1)  # a drain kicked at the window's end finishes before the bare run
            full_rate = args.count / full_seconds
            bare_rate = args.count / bare_seconds(documents_of(start, args.count))
            rounds.append(
                {
                    "full_pipeline_per_second": round(full_rate, 1),
                    "bare_render_sign_per_second": round(bare_rate, 1),
                    "ratio": round(full_rate / bare_rate, 3),
                }
            )
            print(
                f"round {r + 1}: full pipeline {full_rate:.1f}/s, bare {bare_rate:.1f}/s, "
                f"ratio {full_rate / bare_rate:.2f}",
                flush=True,
            )
    finally:
        # A task that ends during a warm shutdown holds the prefork pool up to 30 s (billiard
        # waits for its parent to read the result): give the shutdown time.
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)

    middle = sorted(rounds, key=lambda f: f["ratio"])[len(rounds) // 2]
    figures = {
        "count": args.count,
        "processes": args.processes,
        "pool": args.pool,
        "rounds": rounds,
        **middle,
        "tsa": bool(settings.FILES_TSA_URL),
        "crypto_suite": settings.CRYPTO_SUITE,
    }
    print(
        f"licences: {args.count} a round, {args.rounds} rounds, processes: {args.processes} "
        f"(signing worker pool: {args.pool})"
    )
    print(
        f"median round: full pipeline (API → rendered, sealed, stored) "
        f"{middle['full_pipeline_per_second']}/s, bare render + pyHanko sign of the same "
        f"documents {middle['bare_render_sign_per_second']}/s"
    )
    print(f"ratio full / bare: {middle['ratio']:.2f} (target ≥ 0.60)")
    print(cpu_split.report(spent_all, per=args.count * args.rounds, unit="licence (full pipeline)"))
    loads.append(host_load("after"))
    figures["host_load"] = loads
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
