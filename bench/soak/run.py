"""Soak: `make demo` issuing licences for N seconds with no process dying (issue #10, item 7).

    .venv/bin/python bench/soak/run.py --seconds 600

Starts deploy/demo.py (or `make demo` with --make) in a fresh DEMO_DIR on free ports (or
HUB_PORT / NODE1_PORT / NODE2_PORT), then, with the seeded issuer credentials, issues licences
through API v1 at both city nodes, one request at a time per city, for --seconds. Every two
seconds it checks DEMO_DIR/logs/processes.json: every web server, worker, beat and the broker
must still be the process it started as (no restart, no death). At the end it waits for every
licence to reach the hub (its aggregation view counts arrivals per city), stops the demo with
Ctrl-C (SIGINT) and prints a summary; --json writes it to a file. Exit 0 only when nothing
died or restarted, no issue call failed and every licence reached the hub.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.demo.data import make_citizen_id, make_uscc  # noqa: E402 - after sys.path

LIBRARIES = {"hub": "HUB_PORT", "410100": "NODE1_PORT", "410300": "NODE2_PORT"}
NODES = ("410100", "410300")
START_TIMEOUT = 120.0
STOP_TIMEOUT = 25.0
ARRIVAL_TIMEOUT = 90.0
# Inherited from a test run or an outer make; the demo must run on its embedded defaults.
SCRUBBED = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ENV",
    "NODE_CODE",
    "MAKEFLAGS",
    "MAKELEVEL",
    "MFLAGS",
    "SECRET_KEY",
)
# What a dying worker leaves in its log (kombu's filesystem broker: JSONDecodeError).
FATAL_MARKERS = ("Unrecoverable error", "Traceback (most recent call last)")


def free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.add(sock.getsockname()[1])
    return sorted(ports)


def call(port: int, method: str, path: str, token: str, body: dict | None = None):
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1 only
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"null")
        except ValueError:
            return exc.code, None
    except OSError as exc:
        return 0, {"error": str(exc)}


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Issuer(threading.Thread):
    """Issues licences at one library, one call at a time, until told to stop."""

    def __init__(self, name: str, port: int, creds: dict, stop: threading.Event, pause: float):
        super().__init__(name=f"issue-{name}", daemon=True)
        self.library, self.port, self.stop, self.pause = name, port, stop, pause
        self.token = creds["issuer"]["token"]
        self.type_code = creds["issuer"]["type_codes"][0]
        self.ok = 0
        self.failures: dict[str, int] = {}
        self.latencies: list[float] = []
        self.last_failure: object = None

    def body(self, license_type: dict) -> dict:
        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        area = self.library
        if license_type["holder_category"] == "person":
            holder = {
                "name": "张耐久",
                "code": make_citizen_id(area=area[:4] + "02", birth="19900101", seq="123"),
                "code_type": "111",
            }
        else:
            holder = {
                "name": "耐久测试有限公司",
                "code": make_uscc(dept="91", area=area, body="MA9XK2L7"),
                "code_type": "001",
            }
        surface = {}
        schema = license_type["surface_schema"]
        for field in schema.get("required", []):
            surface[field] = "耐久测试"[: schema["properties"][field].get("maxLength", 50)]
        max_days = license_type["validity_max_days"] or 366
        return {
            "type_code": self.type_code,
            "number": f"SOAK{uuid.uuid4().hex[:14].upper()}",
            "holder": holder,
            "valid_from": now.date().isoformat(),
            "valid_to": (now.date() + timedelta(days=min(365, max_days - 1))).isoformat(),
            "mode": "online",
            "case_completed_at": (now - timedelta(minutes=1)).isoformat(),
            "matter_code": (license_type["related_matters"] or [{"code": ""}])[0]["code"],
            "surface": surface,
        }

    def run(self) -> None:
        status, license_type = call(
            self.port, "GET", f"/api/v1/catalog/types/{self.type_code}/", self.token
        )
        if status != 200:
            self.failures[f"type {status}"] = 1
            self.last_failure = license_type
            return
        while not self.stop.is_set():
            began = time.perf_counter()
            status, answer = call(
                self.port, "POST", "/api/v1/licenses/", self.token, self.body(license_type)
            )
            self.latencies.append(time.perf_counter() - began)
            if status == 201:
                self.ok += 1
            else:
                self.failures[str(status)] = self.failures.get(str(status), 0) + 1
                self.last_failure = answer
            if self.pause:
                self.stop.wait(self.pause)


def hub_arrivals(port: int, token: str) -> dict[str, dict]:
    status, nodes = call(port, "GET", "/api/v1/aggregation/nodes/", token)
    if status != 200 or not isinstance(nodes, list):
        return {}
    return {n["code"]: n for n in nodes if n["code"] in NODES}


def node_total(port: int, token: str) -> int:
    status, page = call(port, "GET", "/api/v1/licenses/?limit=1", token)
    return int(page["count"]) if status == 200 and isinstance(page, dict) else -1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def soak(args: argparse.Namespace) -> dict:
    demo_dir = Path(args.demo_dir or tempfile.mkdtemp(prefix="elicense-soak-")).resolve()
    *chosen, mail, idp = free_ports(5)
    ports = {
        name: int(os.environ[var]) if os.environ.get(var) else port
        for (name, var), port in zip(LIBRARIES.items(), chosen, strict=True)
    }
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["DEMO_DIR"] = str(demo_dir)
    env.update({LIBRARIES[name]: str(port) for name, port in ports.items()})
    # The demo's mail server and identity provider default to HUB_PORT + 25 and 8095: free ports
    # too, or a port some other process holds at that moment stops the demo before it starts.
    env.setdefault("MAIL_PORT", str(mail))
    env.setdefault("IDP_PORT", str(idp))
    command = ["make", "demo"] if args.make else [sys.executable, str(ROOT / "deploy/demo.py")]
    output = demo_dir.parent / f"{demo_dir.name}-demo.out"
    summary: dict = {"demo_dir": str(demo_dir), "ports": ports, "command": " ".join(command)}
    problems: list[str] = []
    started = time.monotonic()
    with open(output, "wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = started + START_TIMEOUT
        while "Ctrl-C" not in output.read_text("utf-8", errors="replace"):
            if proc.poll() is not None:
                raise RuntimeError(
                    f"demo exited ({proc.returncode}):\n{output.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"demo not up in {START_TIMEOUT:.0f} s")
            time.sleep(0.5)
        summary["start_seconds"] = round(time.monotonic() - started, 1)
        assert all(ready(port) for port in ports.values()), "a /readyz is not 200"
        state_file = demo_dir / "logs" / "processes.json"
        first = json.loads(state_file.read_text())
        summary["processes"] = len(first)
        creds = {
            name: json.loads((demo_dir / "credentials" / f"{name}.json").read_text())
            for name in LIBRARIES
        }
        hub_token = creds["hub"]["admin"]["token"]
        baseline = {
            code: n["licenses"] for code, n in hub_arrivals(ports["hub"], hub_token).items()
        }
        before = {code: node_total(ports[code], creds[code]["admin"]["token"]) for code in NODES}

        stop = threading.Event()
        issuers = [Issuer(code, ports[code], creds[code], stop, args.pause) for code in NODES]
        for issuer in issuers:
            issuer.start()
        soak_began = time.monotonic()
        max_backlog = 0
        samples = 0
        while time.monotonic() - soak_began < args.seconds:
            time.sleep(2)
            samples += 1
            state = json.loads(state_file.read_text())
            for key, item in state.items():
                if item["restarts"] or item["pid"] != first[key]["pid"]:
                    problems.append(f"{key} restarted ({item['restarts']})")
                elif not pid_alive(item["pid"]):
                    problems.append(f"{key} (pid {item['pid']}) is not running")
            if proc.poll() is not None:
                problems.append(f"demo exited ({proc.returncode})")
            if problems:
                break
            if samples % 5 == 0:  # every 10 s: how far the hub is behind
                hub = hub_arrivals(ports["hub"], hub_token)
                now_issued = sum(i.ok for i in issuers)
                seen = sum(hub[c]["licenses"] - baseline.get(c, 0) for c in hub)
                max_backlog = max(max_backlog, now_issued - seen)
            if args.progress and samples % 15 == 0:
                elapsed = time.monotonic() - soak_began
                print(f"  {elapsed:5.0f} s: issued {sum(i.ok for i in issuers)}", flush=True)
        stop.set()
        for issuer in issuers:
            issuer.join(timeout=40)
        soaked = time.monotonic() - soak_began
        summary["soak_seconds"] = round(soaked, 1)

        issued = {i.library: i.ok for i in issuers}
        latencies = [x for i in issuers for x in i.latencies]
        summary["issued"] = issued
        summary["issued_per_second"] = round(sum(issued.values()) / soaked, 2)
        summary["issue_latency_ms"] = {
            "p50": round(percentile(latencies, 0.5) * 1000, 1),
            "p95": round(percentile(latencies, 0.95) * 1000, 1),
            "p99": round(percentile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies, default=0) * 1000, 1),
            "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
        }
        failures = {i.library: i.failures for i in issuers if i.failures}
        summary["issue_failures"] = failures
        if failures:
            last = {i.library: i.last_failure for i in issuers if i.failures}
            problems.append(f"issue calls failed: {failures}; last answers: {last}")

        # Every licence issued at a city (seeded or soaked) reaches the hub.
        after = {code: node_total(ports[code], creds[code]["admin"]["token"]) for code in NODES}
        for code in NODES:
            if after[code] - before[code] != issued[code]:
                problems.append(
                    f"{code}: {issued[code]} issued, {after[code] - before[code]} stored"
                )
        wait_began = time.monotonic()
        arrived = {}
        while time.monotonic() - wait_began < ARRIVAL_TIMEOUT:
            arrived = hub_arrivals(ports["hub"], hub_token)
            if all(arrived.get(c, {}).get("licenses") == after[c] for c in NODES):
                break
            time.sleep(1)
        summary["hub"] = {
            code: {
                "licenses_at_node": after[code],
                "arrived_at_hub": arrived.get(code, {}).get("licenses"),
                "lag_seconds_avg_24h": round(
                    arrived.get(code, {}).get("lag_seconds_avg_24h") or 0, 2
                ),
                "lag_seconds_max_24h": round(
                    arrived.get(code, {}).get("lag_seconds_max_24h") or 0, 2
                ),
                "backlog": arrived.get(code, {}).get("backlog"),
            }
            for code in NODES
        }
        summary["hub_caught_up_seconds"] = round(time.monotonic() - wait_began, 1)
        summary["max_backlog_seen"] = max_backlog
        for code in NODES:
            if arrived.get(code, {}).get("licenses") != after[code]:
                problems.append(
                    f"{code}: hub has {arrived.get(code, {}).get('licenses')} of {after[code]}"
                )

        final = json.loads(state_file.read_text())
        summary["restarts"] = sum(item["restarts"] for item in final.values())
        summary["pids_unchanged"] = all(final[k]["pid"] == first[k]["pid"] for k in first)
        fatal = {
            log.name: sum(log.read_text(errors="replace").count(m) for m in FATAL_MARKERS)
            for log in sorted((demo_dir / "logs").glob("*.log"))
            if not log.name.endswith("-setup.log")
        }
        summary["fatal_log_lines"] = {k: v for k, v in fatal.items() if v}
        if summary["fatal_log_lines"]:
            problems.append(f"errors in logs: {summary['fatal_log_lines']}")
        restarted = [
            line for line in output.read_text(errors="replace").splitlines() if "restarting" in line
        ]
        if restarted:
            problems.append(f"demo restarted processes: {restarted}")
    except (RuntimeError, AssertionError, OSError, ValueError, KeyError) as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    finally:
        stop_began = time.monotonic()
        known = descendants(proc.pid)
        demo = [p for p in known | {proc.pid} if "deploy/demo.py" in cmdline(p)]
        for pid in demo:
            os.kill(pid, signal.SIGINT)
        exit_code: int | None
        try:
            exit_code = proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            exit_code = None
            for pid in [proc.pid, *known]:
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            proc.wait(timeout=10)
        summary["stop_seconds"] = round(time.monotonic() - stop_began, 1)
        if exit_code != 0:
            problems.append(f"demo did not stop cleanly on Ctrl-C ({exit_code})")
        left = [cmdline(p) for p in known if pid_alive(p)]
        if left:
            problems.append(f"processes left after stop: {left}")
    summary["problems"] = problems
    summary["ok"] = not problems
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="how long to issue")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between two calls")
    parser.add_argument("--demo-dir", default="", help="default: a new temporary directory")
    parser.add_argument("--make", action="store_true", help="start `make demo`, not demo.py")
    parser.add_argument("--json", default="", help="also write the summary to this file")
    parser.add_argument("--progress", action="store_true", help="a line every 30 s")
    args = parser.parse_args()
    summary = soak(args)
    text = json.dumps(summary, ensure_ascii=False, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
