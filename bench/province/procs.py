"""The real processes of the province bench: a hub and the real city nodes, each with its own
PostgreSQL database (`elicense_bench_prov_<name>`), gunicorn and Celery worker, on loopback.

The process handling is tests/federation/harness.py's (as bench/sync and bench/soak use it);
only the names differ, so that this bench never touches the databases and Redis numbers the
federation tests and the other benches use while they run on the same machine.
"""

from pathlib import Path

import redis

from tests.federation.harness import Library, free_port, leftovers_kill, pg_admin, run_parallel

PREFIX = "elicense_bench_prov_"
# Redis numbers of the bench's libraries (1–3 are free on the shared machine).
REDIS_DBS = {"hub": 1, "410100": 2, "410300": 3}
REAL_CITIES = ("410100", "410300")  # the cities the seed data has issuers and consumers for


class ProvLibrary(Library):
    def env(self) -> dict[str, str]:
        env = super().env()
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{REDIS_DBS[self.name]}"
        return env


def _lib(name: str, workdir: Path, extra_env: dict[str, str]) -> ProvLibrary:
    lib = ProvLibrary(
        name=name, db=PREFIX + name, workdir=workdir / name, extra_env=dict(extra_env)
    )
    lib.workdir.mkdir(parents=True, exist_ok=True)
    return lib


# One Django process per library and pass (start-up costs seconds on two busy cores).
SEED = (
    "import json; from django.core.management import call_command; "
    "from shared.federation.keys import export_public; "
    "call_command('seed_demo', credentials='{creds}'); "
    "open('{key}', 'w').write(json.dumps(export_public()))"
)
REGISTER = (
    "import json; from shared.federation.keys import peer_register; "
    "[peer_register(code=d['code'], kid=d['kid'], public_key_pem=d['public_key_pem'], "
    "name=d['name'], base_url=u) for d, u in ((json.load(open(f)), u) for f, u in {files!r})]"
)


def build(workdir: Path, names: list[str], extra_env: dict[str, str]) -> dict[str, ProvLibrary]:
    """Fresh databases for `names` ("hub" and real city codes): migrated, seeded, exchange keys
    made and the real nodes and the hub registered with each other (as tests/federation does);
    a loopback port chosen for each."""
    libs = {name: _lib(name, workdir, extra_env) for name in names}
    for lib in libs.values():
        leftovers_kill(lib.db)
        pg_admin(f"DROP DATABASE IF EXISTS {lib.db} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {lib.db}")
        redis.Redis(db=REDIS_DBS[lib.name]).flushdb()
        lib.port = free_port()
    run_parallel(list(libs.values()), lambda lib: ["migrate", "-v", "0"])
    run_parallel(
        list(libs.values()),
        lambda lib: [
            "shell",
            "-c",
            SEED.format(creds=lib.workdir / "credentials.json", key=lib.workdir / "key.json"),
        ],
    )
    hub = libs["hub"]
    nodes = [lib for lib in libs.values() if lib is not hub]

    def register(lib: ProvLibrary) -> list[str]:
        peers = nodes if lib is hub else [hub]
        files = [(str(p.workdir / "key.json"), p.url) for p in peers]
        return ["shell", "-c", REGISTER.format(files=files)]

    run_parallel(list(libs.values()), register)
    return libs


def drop(libs: dict[str, ProvLibrary]) -> None:
    for lib in libs.values():
        lib.stop_all()
        pg_admin(f"DROP DATABASE IF EXISTS {lib.db} WITH (FORCE)")
