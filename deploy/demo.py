"""`make demo`: the hub and two city nodes, each with its web server, Celery worker and beat.

Everything runs on the embedded defaults (SQLite under var/demo/, kombu's filesystem broker) so
nothing has to be installed first; set REDIS_URL to use Redis. Ctrl-C stops every process.
Ports: HUB_PORT (8000), NODE1_PORT (8001), NODE2_PORT (8002); DEMO_DIR moves the data.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
VENV_BIN = Path(PY).parent


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
            "label": "郑州市电子证照库",
        },
        {
            "name": "410300",
            "tier": "node",
            "module": "municipal_node",
            "code": "410300",
            "port": os.environ.get("NODE2_PORT", "8002"),
            "label": "洛阳市电子证照库",
        },
    ]


def env_for(lib: dict[str, str], var_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["VAR_DIR"] = str(var_root / lib["name"])
    env["DJANGO_SETTINGS_MODULE"] = f"{lib['module']}.settings"
    env.setdefault("DJANGO_ENV", "local")
    env["PYTHONUNBUFFERED"] = "1"
    if lib["code"]:
        env["NODE_CODE"] = lib["code"]
    if os.environ.get("REDIS_URL"):
        # One Redis, one database per library, so their queues never mix.
        base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
        env["REDIS_URL"] = f"{base}/{ {'hub': 1, '410100': 2, '410300': 3}[lib['name']] }"
    return env


def prepare(lib: dict[str, str], var_root: Path) -> dict:
    env = env_for(lib, var_root)
    creds = var_root / "credentials" / f"{lib['name']}.json"
    manage = [PY, str(ROOT / "manage.py"), lib["tier"]]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    subprocess.run(
        [*manage, "seed_demo", "--credentials", str(creds)],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(creds.read_text(encoding="utf-8"))


def start(lib: dict[str, str], var_root: Path, logs: Path) -> list[subprocess.Popen]:
    env = env_for(lib, var_root)
    name = lib["name"]
    commands = {
        "web": [
            str(VENV_BIN / "gunicorn"),
            f"{lib['module']}.wsgi:application",
            "--bind",
            f"127.0.0.1:{lib['port']}",
            "--workers",
            "2",
            "--timeout",
            "60",
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
        ],
        "beat": [str(VENV_BIN / "celery"), "-A", lib["module"], "beat", "--loglevel", "INFO"],
    }
    procs = []
    for role, command in commands.items():
        log = open(logs / f"{name}-{role}.log", "ab")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def wait_ready(port: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    var_root = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo")
    logs = var_root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    libs = libraries()
    print("正在准备数据库与演示数据 / migrating and seeding…", flush=True)
    creds = {lib["name"]: prepare(lib, var_root) for lib in libs}
    procs: list[subprocess.Popen] = []
    stopping = False

    def on_signal(signum, frame):  # type: ignore[no-untyped-def]
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for lib in libs:
            procs += start(lib, var_root, logs)
        deadline = time.monotonic() + 60
        for lib in libs:
            if not wait_ready(lib["port"], deadline):
                print(f"{lib['label']} 未能启动，请查看 {logs}", file=sys.stderr)
                return 1
        print("\n演示环境已启动 / the federation is running:")
        for lib in libs:
            c = creds[lib["name"]]
            print(f"  {lib['label']:<24} http://127.0.0.1:{lib['port']}/api/docs/")
            print(f"      签发单位令牌 issuer:   {c['issuer']['token']}")
            print(f"      应用单位令牌 consumer: {c['consumer']['token']}")
            print(f"      管理员令牌 admin:      {c['admin']['token']}")
        print(f"\n凭据文件 credentials: {var_root / 'credentials'}/<hub|410100|410300>.json")
        print(f"日志 logs: {logs}\n按 Ctrl-C 停止 / press Ctrl-C to stop.", flush=True)
        while not stopping:
            if any(p.poll() is not None for p in procs):
                print(f"有进程意外退出，请查看 {logs}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("正在停止所有进程 / stopping…", flush=True)
        stop(procs)
        print("已停止 / stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
