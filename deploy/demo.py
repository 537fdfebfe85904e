"""`make demo`: the hub and two city nodes, each with its web server, Celery worker and beat.

Everything runs on the embedded defaults (SQLite under var/demo/, kombu's filesystem broker) so
nothing has to be installed first; set REDIS_URL to use Redis (one database per library).
Ctrl-C (SIGINT) or SIGTERM stops every process and exits 0.
Ports: HUB_PORT (8000), NODE1_PORT (8001), NODE2_PORT (8002); DEMO_DIR moves the data.
"""

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
VENV_BIN = Path(PY).parent
START_TIMEOUT = 90.0  # seconds for every web server, worker and beat to come up
STOP_TIMEOUT = 15.0  # seconds for a graceful stop before SIGKILL
REDIS_DB = {"hub": 1, "410100": 2, "410300": 3}
# Variables of the caller that would make the three libraries share a database or settings.
SCRUBBED = ("DATABASE_URL", "HUB_SETTINGS_MODULE", "NODE_SETTINGS_MODULE", "TEST_DATABASE_NAME")


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


def redis_url_for(url: str, db: int) -> str:
    """The same Redis server, database `db` (keeps user, password, port and query)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def env_for(lib: dict[str, str], var_root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["VAR_DIR"] = str(var_root / lib["name"])
    env["DJANGO_SETTINGS_MODULE"] = f"{lib['module']}.settings"
    env["DJANGO_ENV"] = "local"
    env["PYTHONUNBUFFERED"] = "1"
    env["FILES_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{lib['port']}"  # QR codes, status lists
    if lib["code"]:
        env["NODE_CODE"] = lib["code"]
    else:
        env.pop("NODE_CODE", None)
    if os.environ.get("REDIS_URL"):
        # One Redis, one database per library, so their queues never mix.
        env["REDIS_URL"] = redis_url_for(os.environ["REDIS_URL"], REDIS_DB[lib["name"]])
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


# Migrate, then seed (idempotent), in one process per library: one Django start-up, not two.
SETUP = (
    "import sys, json, django; from django.core.management import call_command; django.setup(); "
    "call_command('migrate', interactive=False, verbosity=1); "
    "call_command('seed_demo', credentials=sys.argv[1]); "
    "from shared.federation.keys import export_public; "
    "open(sys.argv[2], 'w').write(json.dumps(export_public() | {'url': sys.argv[3]}))"
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
    (var_root / "keys").mkdir(parents=True, exist_ok=True)
    return var_root / "keys" / f"{lib['name']}.json"


def connect_federation(libs: list[dict[str, str]], var_root: Path, logs: Path) -> None:
    hub = next(lib for lib in libs if lib["tier"] == "hub")
    nodes = [lib for lib in libs if lib is not hub]
    for lib in libs:
        peers = nodes if lib is hub else [hub]
        log = logs / f"{lib['name']}-setup.log"
        with open(log, "ab") as out:
            subprocess.run(
                [PY, "-c", REGISTER, *(str(key_file(p, var_root)) for p in peers)],
                env=env_for(lib, var_root),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=120,
            )


def setup(lib: dict[str, str], var_root: Path, logs: Path) -> subprocess.Popen:
    creds = var_root / "credentials" / f"{lib['name']}.json"
    url = f"http://127.0.0.1:{lib['port']}"
    return spawn(
        [PY, "-c", SETUP, str(creds), str(key_file(lib, var_root)), url],
        env_for(lib, var_root),
        logs / f"{lib['name']}-setup.log",
    )


def gunicorn_options() -> list[str]:
    # Gunicorn ≥ 24 opens a control socket at one fixed path; three servers would share it.
    try:
        from gunicorn import config
    except ImportError:
        return []
    return ["--no-control-socket"] if hasattr(config, "ControlSocketDisable") else []


def start(lib: dict[str, str], var_root: Path, logs: Path) -> dict[str, subprocess.Popen]:
    env = env_for(lib, var_root)
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
    return {role: spawn(cmd, env, logs / f"{name}-{role}.log") for role, cmd in commands.items()}


def readyz(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


# What each process writes to its log once it is up.
UP_MARKERS = {"worker": " ready.", "beat": "beat: Starting..."}


def is_up(lib: dict[str, str], role: str, logs: Path) -> bool:
    if role == "web":
        return readyz(lib["port"])
    log = logs / f"{lib['name']}-{role}.log"
    return UP_MARKERS[role] in log.read_text(encoding="utf-8", errors="replace")


def bring_up(libs: list[dict[str, str]], var_root: Path, logs: Path, procs: list) -> None:
    """Set each library up, start its processes as soon as it is ready, wait until all are up."""
    setups = {lib["name"]: setup(lib, var_root, logs) for lib in libs}
    procs += setups.values()
    by_name = {lib["name"]: lib for lib in libs}
    started: dict[str, dict[str, subprocess.Popen]] = {}
    pending: set[tuple[str, str]] = set()
    deadline = float("inf")
    while setups or pending:
        for name, proc in list(setups.items()):
            if proc.poll() is None:
                continue
            del setups[name]
            procs.remove(proc)
            if proc.returncode != 0:
                log = logs / f"{name}-setup.log"
                raise RuntimeError(
                    f"{by_name[name]['label']} 初始化失败 / setup failed:\n{tail(log)}"
                )
            started[name] = start(by_name[name], var_root, logs)
            procs += started[name].values()
            pending |= {(name, role) for role in started[name]}
            deadline = time.monotonic() + START_TIMEOUT
        for name, role in sorted(pending):
            proc = started[name][role]
            if proc.poll() is not None:
                log = logs / f"{name}-{role}.log"
                raise RuntimeError(
                    f"{name} {role} 已退出 / exited ({proc.returncode}):\n{tail(log)}"
                )
            if is_up(by_name[name], role, logs):
                pending.discard((name, role))
        check_stop()
        if time.monotonic() > deadline:
            late = ", ".join(f"{n} {r}" for n, r in sorted(pending))
            raise RuntimeError(
                f"{START_TIMEOUT:.0f} 秒内未启动 / not up in time: {late}; 日志 logs: {logs}"
            )
        time.sleep(0.2)


def stop(procs: list[subprocess.Popen]) -> None:
    """SIGTERM each process (gunicorn and celery stop their own children), then SIGKILL what is
    left of each process group."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    received = signals_received
    deadline = time.monotonic() + STOP_TIMEOUT
    while any(p.poll() is None for p in procs):
        if time.monotonic() > deadline or signals_received > received:  # a second Ctrl-C: now
            break
        time.sleep(0.1)
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers: forked workers of a dead parent
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


def show(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(libs: list[dict[str, str]], var_root: Path, logs: Path, seconds: float) -> str:
    broker = "Redis" if os.environ.get("REDIS_URL") else "filesystem (kombu)"
    lines = [f"\n演示环境已启动 / the federation is running ({seconds:.1f} s, broker: {broker}):"]
    for lib in libs:
        path = var_root / "credentials" / f"{lib['name']}.json"
        creds = json.loads(path.read_text(encoding="utf-8"))
        lines += [
            f"  {lib['label']}",
            f"      http://127.0.0.1:{lib['port']}/api/docs/    凭据 credentials: {show(path)}",
            f"      签发单位 issuer   {creds['issuer']['token']}  ({creds['issuer']['username']})",
            f"      应用单位 consumer {creds['consumer']['token']}  ({creds['consumer']['username']})",
            f"      库管理员 admin    {creds['admin']['token']}  ({creds['admin']['username']})",
        ]
    lines += [
        f"  用户密码 password: {creds['password']}    日志 logs: {show(logs)}",
        "按 Ctrl-C 停止 / press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def main() -> int:
    started_at = time.monotonic()
    var_root = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo").resolve()
    logs = var_root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    libs = libraries()
    ports = [lib["port"] for lib in libs]
    if len(set(ports)) != len(ports):
        print(f"端口重复 / duplicate ports: {ports}", file=sys.stderr)
        return 2
    busy = [p for p in ports if not (p.isdigit() and port_free(int(p)))]
    if busy:
        print(
            f"端口已被占用 / port in use: {', '.join(busy)} (HUB_PORT, NODE1_PORT, NODE2_PORT)",
            file=sys.stderr,
        )
        return 1
    for old in logs.glob("*.log"):
        old.unlink()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    procs: list[subprocess.Popen] = []
    try:
        print(
            f"正在迁移数据库并写入演示数据 / migrating and seeding into {show(var_root)} …",
            flush=True,
        )
        bring_up(libs, var_root, logs, procs)
        connect_federation(libs, var_root, logs)
        print(banner(libs, var_root, logs, time.monotonic() - started_at), flush=True)
        while True:
            check_stop()
            for proc in procs:
                if proc.poll() is not None:
                    print(
                        f"进程意外退出 / a process exited ({proc.returncode}): {' '.join(proc.args[:4])}"
                        f"；日志 logs: {show(logs)}",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.3)
    except Stop:
        return 0
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        print("正在停止所有进程 / stopping …", flush=True)
        stop(procs)
        print("已停止 / stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
