"""`make demo` end to end: three libraries come up, a licence is issued, suspended and its events
read through the seeded credentials, and Ctrl-C stops every process.

Real processes (make, gunicorn, Celery worker and beat for the hub, 郑州 and 洛阳) on free ports
and a temporary DEMO_DIR; no test database. Bounded: 68 s to start, 18 s to stop (deploy/demo.py
itself SIGKILLs what is left after 15 s).
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.demo.data import make_citizen_id, make_uscc

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 68.0
STOP_TIMEOUT = 18.0
LIBRARIES = {"hub": "HUB_PORT", "410100": "NODE1_PORT", "410300": "NODE2_PORT"}
# Inherited from the test settings or an outer make; the demo must run on its embedded defaults.
SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ENV",
    "NODE_CODE",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
)


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.add(sock.getsockname()[1])
    return sorted(ports)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def descendants(root: int) -> set[int]:
    """Every live process under `root` (Linux /proc), whatever its process group or session."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill_all(proc: subprocess.Popen, known: set[int]) -> None:
    """Last resort: SIGKILL make's process group and every process group it started."""
    pids = known | descendants(proc.pid)
    for pid in [proc.pid, *pids]:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    proc.wait(timeout=10)


def call(port: int, method: str, path: str, token: str, body: dict | None = None):
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


def surface_for(schema: dict) -> dict:
    """A surface that satisfies a flat JSON Schema of string fields (the demo types' shape)."""
    surface = {}
    for name in schema.get("required", []):
        spec = schema["properties"][name]
        assert spec.get("type", "string") == "string", (name, spec)
        surface[name] = "演示冒烟测试"[: spec.get("maxLength", 50)]
    return surface


def check_credentials(path: Path, name: str) -> dict:
    creds = json.loads(path.read_text(encoding="utf-8"))
    for role in ("issuer", "consumer", "admin"):
        assert creds[role]["token"].startswith("elc_"), (name, role)
    for role in ("issuer", "consumer"):
        assert len(creds[role]["agency_code"]) == 18, (name, role)
    assert creds["issuer"]["type_codes"], name
    grants = creds["consumer"]["grants"]
    assert grants and all(set(g) >= {"type_code", "matter_code"} for g in grants), name
    assert all(len(g["type_code"]) == 21 for g in grants), name
    assert creds["library"]["tier"] == ("hub" if name == "hub" else "node")
    if name != "hub":
        assert creds["library"]["code"] == name
    return creds


def console_sign_in(port: int, name: str, creds: dict, demo_dir: Path) -> None:
    """A seeded administrator signs in to the console with the password and the one-time code
    `deploy/demo.py code` prints (as docs/console.md tells a new user)."""
    import http.cookiejar
    import re
    import sys
    import urllib.parse

    username = creds["admin"]["username"]
    assert any(u["username"] == username for u in creds["console"]["users"]), name
    code = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "demo.py"), "code", name, username],
        env={**os.environ, "DEMO_DIR": str(demo_dir)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    base = f"http://127.0.0.1:{port}"
    landing = opener.open(base + "/", timeout=10).read().decode()  # the landing page
    # the demo (and only the demo) lists its accounts there, never a password
    assert "演示账户" in landing and username in landing, landing[-2000:]
    assert creds["password"] not in landing
    form = opener.open(base + "/console/login/", timeout=10).read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode(
        {
            "username": username,
            "password": creds["password"],
            "otp_token": code,
            "csrfmiddlewaretoken": csrf,
        }
    ).encode()
    request = urllib.request.Request(base + "/console/login/", data=body, headers={"Referer": base})
    home = opener.open(request, timeout=10).read().decode()
    assert username in home and "退出登录" in home, home[-2000:]


def issue_suspend_and_read_events(port: int, creds: dict) -> None:
    token = creds["issuer"]["token"]
    type_code = creds["issuer"]["type_codes"][0]
    status, license_type = call(port, "GET", f"/api/v1/catalog/types/{type_code}/", token)
    assert status == 200, license_type
    assert license_type["state"] == "published"
    assert license_type["requires_review"] is False

    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    if license_type["holder_category"] == "person":
        holder = {
            "name": "张演示",
            "code": make_citizen_id(area="410102", birth="19900101", seq="123"),
            "code_type": "111",
        }
    else:
        holder = {
            "name": "郑州市冒烟测试有限公司",
            "code": make_uscc(dept="91", area="410100", body="MA9XK2L7"),
            "code_type": "001",
        }
    max_days = license_type["validity_max_days"] or 366
    body = {
        "type_code": type_code,
        "number": f"SMOKE{uuid.uuid4().hex[:12].upper()}",
        "holder": holder,
        "valid_from": now.date().isoformat(),
        "valid_to": (now.date() + timedelta(days=min(365, max_days - 1))).isoformat(),
        "mode": "online",
        "case_completed_at": (now - timedelta(minutes=1)).isoformat(),
        "matter_code": (license_type["related_matters"] or [{"code": ""}])[0]["code"],
        "surface": surface_for(license_type["surface_schema"]),
    }
    status, issued = call(port, "POST", "/api/v1/licenses/", token, body)
    assert status == 201, issued
    assert issued["status"] == "valid" and issued["version"] == 1
    identifier = issued["identifier"]

    status, suspended = call(
        port, "POST", f"/api/v1/licenses/{identifier}/suspend/", token, {"reason": "冒烟测试暂扣"}
    )
    assert status == 200, suspended
    assert suspended["license"]["status"] == "suspended"

    status, again = call(
        port, "POST", f"/api/v1/licenses/{identifier}/suspend/", token, {"reason": "x"}
    )
    assert status == 409 and set(again) == {"code", "message", "detail"}, again

    status, events = call(port, "GET", f"/api/v1/licenses/{identifier}/events/", token)
    assert status == 200, events
    events = events["results"] if isinstance(events, dict) else events
    assert [e["action"] for e in events] == ["issue", "suspend"]
    assert events[1]["reason"] == "冒烟测试暂扣"
    assert events[1]["to_status"] == "suspended"


def test_make_demo_runs_the_federation_and_stops_on_ctrl_c(tmp_path):
    ports = dict(zip(LIBRARIES, free_ports(3), strict=True))
    demo_dir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["DEMO_DIR"] = str(demo_dir)
    env.update({LIBRARIES[name]: str(port) for name, port in ports.items()})
    # the unified-login provider and the mail server on free ports too: the mail server's default
    # (HUB_PORT + 25) may be another process's (the suite runs beside others)
    env["IDP_PORT"], env["MAIL_PORT"] = (
        str(port) for port in [p for p in free_ports(5) if p not in ports.values()][:2]
    )
    output = tmp_path / "make-demo.out"

    def log() -> str:
        text = output.read_text(encoding="utf-8", errors="replace")
        logs = "".join(
            f"\n--- {p.name} ---\n" + "\n".join(p.read_text(errors="replace").splitlines()[-15:])
            for p in sorted((demo_dir / "logs").glob("*.log"))
        )
        return text[-4000:] + logs[-8000:]

    known: set[int] = set()
    started = time.monotonic()
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            ["make", "demo"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        # Up: the three /readyz answer 200 and the banner says workers and beat are up too.
        deadline = started + START_TIMEOUT
        while not (
            all(ready(port) for port in ports.values()) and "Ctrl-C" in output.read_text("utf-8")
        ):
            assert proc.poll() is None, f"make demo exited ({proc.returncode}):\n{log()}"
            assert time.monotonic() < deadline, f"not up in {START_TIMEOUT:.0f} s:\n{log()}"
            time.sleep(0.5)
        up_at = time.monotonic()
        print(f"make demo: all up in {up_at - started:.1f} s")
        known = descendants(proc.pid)
        roles = " ".join(cmdline(pid) for pid in known)
        for module in ("provincial_hub", "municipal_node"):
            assert f"{module}.wsgi:application" in roles
            assert f"-A {module} worker" in roles and f"-A {module} beat" in roles

        creds = {
            name: check_credentials(demo_dir / "credentials" / f"{name}.json", name)
            for name in LIBRARIES
        }
        issue_suspend_and_read_events(ports["410100"], creds["410100"])
        console_sign_in(ports["hub"], "hub", creds["hub"], demo_dir)

        # Ctrl-C: deploy/demo.py handles SIGINT (its children run in their own sessions). It is
        # signalled alone because GNU make, when it gets SIGINT itself, always re-raises it.
        known |= descendants(proc.pid)
        demo = [p for p in known if "deploy/demo.py" in cmdline(p)]
        assert len(demo) == 1, [cmdline(p) for p in known]
        os.kill(demo[0], signal.SIGINT)
        stopping_at = time.monotonic()
        assert proc.wait(timeout=STOP_TIMEOUT) == 0, log()
        print(f"make demo: stopped in {time.monotonic() - stopping_at:.1f} s")
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in known) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [cmdline(pid) for pid in known if alive(pid)]
        assert not left, left
        assert not [port for port in ports.values() if port_open(port)]
        assert "已停止 / stopped." in output.read_text("utf-8")
    finally:
        if proc.poll() is None or any(alive(pid) for pid in known):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)  # make passes SIGTERM on to deploy/demo.py
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            kill_all(proc, known)
