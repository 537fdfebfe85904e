"""Real processes for federation tests: a hub and city nodes, each with its own PostgreSQL
database, gunicorn web server and Celery worker (with embedded beat), on loopback ports.

Databases are cloned from per-library templates (migrated, seeded, keys exchanged) built once
per test session, so each test starts from the same state in well under a second.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG = "postgresql://postgres@127.0.0.1:5432/"
SECRET = "federation-test-secret-key-0123456789-abcdefghij"
# `make test` runs this suite on two pytest-xdist workers: each runs federations of its own, so
# every fixed name carries the worker's number (gw0 keeps the plain names and Redis 4-6, gw1 adds
# `_gw1` and takes Redis 7-9; the in-process suites' workers take 15 and 14).
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
if WORKER > 1:
    raise RuntimeError("tests/federation runs on at most two pytest-xdist workers (-n 2)")
SUFFIX = f"_gw{WORKER}" if WORKER else ""
REDIS_DBS = {"hub": 4 + 3 * WORKER, "410100": 5 + 3 * WORKER, "410300": 6 + 3 * WORKER}
# Process groups of the running federation, one file per database and role: a run killed from
# outside (a timeout, Ctrl-C twice) leaves its gunicorn and Celery processes behind, and they
# would work on the next run's databases and Redis queues of the same names.
PIDS = Path(os.environ.get("FEDRUN_PIDS", "/tmp/elicense-fedrun-pids"))


def leftovers_kill(db: str) -> None:
    """Kill the process groups a previous run left for `db` (their pid files name them)."""
    if not PIDS.is_dir():
        return
    for pidfile in PIDS.glob(f"{db}.*.pid"):
        try:
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)
        except (ValueError, ProcessLookupError, PermissionError):
            pass
        pidfile.unlink(missing_ok=True)


def pg_admin(sql: str) -> None:
    with psycopg.connect(PG + "postgres", autocommit=True) as conn:
        conn.execute(sql)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Library:
    name: str  # "hub" or the city code
    db: str
    workdir: Path
    port: int = 0
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    # Queues the worker consumes (default: all). bench/sync leaves `signing` to other machines.
    worker_queues: str = ""
    web_workers: int = 1  # gunicorn processes
    web_threads: int = 8  # threads of each (1: gunicorn's sync worker, one request at a time)
    pg: str = (
        PG  # the PostgreSQL server holding `db` (tests/federation/pgcluster.py: a private one)
    )
    pg_query: str = ""  # after the database name: `?target_session_attrs=read-write` (failover)

    @property
    def tier(self) -> str:
        return "hub" if self.name == "hub" else "node"

    @property
    def code(self) -> str:
        return "410000" if self.name == "hub" else self.name

    @property
    def module(self) -> str:
        return "provincial_hub" if self.name == "hub" else "municipal_node"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TEST_"))}
        env.update(
            DJANGO_SETTINGS_MODULE=f"{self.module}.settings",
            DJANGO_ENV="local",
            DATABASE_URL=self.pg + self.db + self.pg_query,
            REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DBS[self.name]}",
            VAR_DIR=str(self.workdir),
            SECRET_KEY=SECRET,
            FEDERATION_SWEEP_SECONDS="1",
            FEDERATION_RECONCILE_SECONDS="3600",
            FEDERATION_HTTP_TIMEOUT="10",
            # a receiver back from an outage is retried within seconds, not minutes (production:
            # 300; the back-off itself is proven in tests/shared/federation), and enough attempts
            # that an outage of ~5 min (a slow CI host) still dead-letters nothing (default 20)
            FEDERATION_MAX_BACKOFF_SECONDS="5",
            FEDERATION_MAX_ATTEMPTS="60",
            EXPIRY_SWEEP_SECONDS="3600",
            BATCH_SWEEP_SECONDS="2",
            # the hub's sweep of file fetches that failed or whose task was lost (default 30)
            FEDERATION_FILE_SWEEP_SECONDS="3",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
        )
        if self.tier == "node":
            env["NODE_CODE"] = self.code
        env.update(self.extra_env)
        return env

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), self.tier, *args],
            env=self.env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name} {args}: {result.stderr[-3000:]}")
        return result

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.pg + self.db + self.pg_query, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def _spawn(self, role: str, command: list[str]) -> None:
        log = open(self.workdir / f"{role}.log", "ab")  # noqa: SIM115 - closed when the test ends
        self.procs[role] = subprocess.Popen(
            command,
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        PIDS.mkdir(parents=True, exist_ok=True)
        (PIDS / f"{self.db}.{role}.pid").write_text(str(self.procs[role].pid))

    def start_web(self) -> None:
        self._spawn(
            "web",
            [
                str(VENV_BIN / "gunicorn"),
                f"{self.module}.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "--timeout",
                "60",
            ],
        )

    def start_worker(self) -> None:
        self._spawn(
            "worker",
            [
                str(VENV_BIN / "celery"),
                "-A",
                self.module,
                "worker",
                "-B",
                "--concurrency",
                "2",
                *(["-Q", self.worker_queues] if self.worker_queues else []),
                "--loglevel",
                "WARNING",
                "-s",
                str(self.workdir / "beat-schedule"),
                "-n",
                f"{self.name}-{time.monotonic_ns()}@%h",
            ],
        )

    def start_consumer(self) -> None:
        self._spawn(
            "consumer",
            [sys.executable, str(ROOT / "manage.py"), self.tier, "exchange_consume"],
        )

    def stop(self, role: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(role, None)
        (PIDS / f"{self.db}.{role}.pid").unlink(missing_ok=True)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop_all(self) -> None:
        for role in list(self.procs):
            self.stop(role)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready; log: {self.log('web')[-2000:]}")

    def log(self, role: str) -> str:
        path = self.workdir / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def credentials(self) -> dict:
        return json.loads((self.workdir / "credentials.json").read_text())

    def count(self, where: str = "TRUE", params: tuple = ()) -> int:
        return self.sql(f"SELECT count(*) FROM licenses_license WHERE {where}", params)[0][0]  # noqa: S608


def build_templates(workdir: Path, names: list[str], suffix: str = SUFFIX) -> dict[str, Path]:
    """Migrate + seed + keygen each library once; exchange keys between hub and nodes. The
    databases are `fedtpl_<name><suffix>`."""
    templates: dict[str, Path] = {}
    libs = []
    for name in names:
        db = f"fedtpl_{name}{suffix}"
        pg_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {db}")
        lib = Library(name=name, db=db, workdir=workdir / f"tpl-{name}")
        lib.workdir.mkdir(parents=True, exist_ok=True)
        libs.append(lib)
    run_parallel(libs, lambda lib: ["migrate", "-v", "0"])
    # One Django process per library and pass (start-up costs seconds on two busy cores).
    seed = (
        "import json; from django.core.management import call_command; "
        "from shared.federation.keys import export_public; "
        "call_command('seed_demo', credentials='{creds}'); "
        "open('{key}', 'w').write(json.dumps(export_public()))"
    )
    run_parallel(
        [lib for lib in libs],
        lambda lib: [
            "shell",
            "-c",
            seed.format(creds=lib.workdir / "credentials.json", key=lib.workdir / "key.json"),
        ],
    )
    hub = next(lib for lib in libs if lib.name == "hub")
    nodes = [lib for lib in libs if lib is not hub]
    register = (
        "import json; from shared.federation.keys import peer_register; "
        "[peer_register(code=d['code'], kid=d['kid'], public_key_pem=d['public_key_pem'], "
        "name=d['name']) for d in (json.load(open(f)) for f in {files!r})]"
    )
    run_parallel(
        libs,
        lambda lib: [
            "shell",
            "-c",
            register.format(
                files=[str(n.workdir / "key.json") for n in nodes]
                if lib is hub
                else [str(hub.workdir / "key.json")]
            ),
        ],
    )
    for lib in libs:
        templates[lib.name] = lib.workdir
    # Seeding wrote outbox rows (catalogue, sample licences) at the nodes: they travel in tests.
    return templates


def copy_templates(names: list[str], source_suffix: str) -> None:
    """This worker's templates as copies of templates another worker built (no connection to
    the sources may be open meanwhile: the caller holds the lock they were built under)."""
    for name in names:
        db = f"fedtpl_{name}{SUFFIX}"
        pg_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        pg_admin(f"CREATE DATABASE {db} TEMPLATE fedtpl_{name}{source_suffix}")


def run_parallel(libs: list[Library], args_for) -> None:  # type: ignore[no-untyped-def]
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), lib.tier, *args_for(lib)],
            env=lib.env(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for lib in libs
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]


# Started federations, so that a failing test's report can show their processes' logs.
LIVE: list["Federation"] = []


class Federation:
    """Clones of the templates, started as real processes."""

    def __init__(
        self,
        workdir: Path,
        templates: dict[str, Path],
        names: list[str],
        clusters: dict | None = None,
        **extra_env: str,
    ):
        """`clusters` maps a library to a private PostgreSQL cluster (pgcluster.Cluster) that
        holds its database instead of the machine's."""
        self.libs: dict[str, Library] = {}
        for name in names:
            db = f"fedrun_{name}{SUFFIX}"
            leftovers_kill(db)
            pg_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            cluster = (clusters or {}).get(name)
            if cluster is None:
                pg_admin(f"CREATE DATABASE {db} TEMPLATE fedtpl_{name}{SUFFIX}")
            else:
                cluster.clone(f"fedtpl_{name}{SUFFIX}", db, PG)
            lib = Library(name=name, db=db, workdir=workdir / name, extra_env=dict(extra_env))
            if cluster is not None:
                lib.pg, lib.pg_query = cluster.url, cluster.query
            lib.workdir.mkdir(parents=True, exist_ok=True)
            (lib.workdir / "credentials.json").write_text(
                (templates[name] / "credentials.json").read_text()
            )
            lib.port = free_port()
            redis.Redis(db=REDIS_DBS[name]).flushdb()
            self.libs[name] = lib
        LIVE.append(self)
        for lib in self.libs.values():
            for other in self.libs.values():
                if other is not lib:
                    lib.sql(
                        "UPDATE federation_peer SET base_url = %s WHERE code = %s",
                        (other.url, other.code),
                    )

    def __getitem__(self, name: str) -> Library:
        return self.libs[name]

    def start(self, *names: str) -> None:
        for name in names or self.libs:
            lib = self.libs[name]
            lib.start_web()
            lib.start_worker()
        for name in names or self.libs:
            self.libs[name].wait_ready()

    def stop(self) -> None:
        for lib in self.libs.values():
            lib.stop_all()
        if self in LIVE:
            LIVE.remove(self)

    def log_tails(self, chars: int = 4000) -> list[tuple[str, str]]:
        """The end of every process log, for a failing test's report."""
        return [
            (f"{lib.name} {path.stem}", path.read_text(errors="replace")[-chars:])
            for lib in self.libs.values()
            for path in sorted(lib.workdir.glob("*.log"))
        ]

    def slow_or_failed_answers(self, slow_ms: float = 3000, last: int = 40) -> str:
        """The web servers' answers that failed (≥ 400) or took ≥ `slow_ms`, the last `last`
        of them: a failing test's report ends with these, since CI shows only its tail."""
        found = []
        for lib in self.libs.values():
            for path in sorted(lib.workdir.glob("web*.log")):
                for line in path.read_text(errors="replace").splitlines():
                    if '"http.request"' not in line:
                        continue
                    try:
                        answer = json.loads(line)
                    except ValueError:
                        continue
                    if answer.get("status", 0) >= 400 or answer.get("duration_ms", 0) >= slow_ms:
                        found.append(
                            f"{answer.get('timestamp')} {lib.name} {answer.get('method')} "
                            f"{answer.get('path')} {answer.get('status')} "
                            f"{answer.get('duration_ms')} ms"
                        )
        return "\n".join(sorted(found)[-last:]) or "(none)"

    def logged_errors(self, chars: int = 6000) -> str:
        """Every error the processes logged with its traceback (a 500's cause), the last
        `chars` of them: the log tails above are cut, and CI shows only the report's end."""
        found = []
        for lib in self.libs.values():
            for path in sorted(lib.workdir.glob("*.log")):
                for line in path.read_text(errors="replace").splitlines():
                    if '"level": "error"' not in line and '"level": "critical"' not in line:
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    found.append(
                        f"{entry.get('timestamp')} {lib.name} {path.stem} {entry.get('event')}\n"
                        f"{entry.get('exception', '')}"
                    )
        return "\n".join(sorted(found))[-chars:] or "(none)"


def wait_until(predicate, timeout: float = 60, interval: float = 0.25, message: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting: {message} (last={last!r})")
