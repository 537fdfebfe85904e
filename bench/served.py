"""A library served by gunicorn and loaded by wrk over loopback: the helpers bench/verify and
bench/query share (start the server, run wrk on a list of requests, alternate rounds).

wrk (Debian package `wrk`, `apt-get install wrk`) is a benchmark tool, not part of a library's
set-up, so it is not in deploy/system-packages.sh. It is written in C: on this 2-core machine a
Python load generator would take more of the CPU than the server it measures.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# One wrk script for every run: requests rotate through a file of "METHOD PATH [BODY]" lines
# (each thread starts at its own offset), every answer's body must contain WRK_EXPECT (so a
# fast error page cannot pass for throughput), and done() prints the figures as one JSON line.
WRK_SCRIPT = r"""
local lines, threads, counter = {}, {}, 0
for line in io.lines(os.getenv("WRK_REQUESTS")) do lines[#lines + 1] = line end
local expect = os.getenv("WRK_EXPECT")
local auth = os.getenv("WRK_AUTH")
function setup(thread)
  thread:set("id", counter); counter = counter + 1; threads[#threads + 1] = thread
end
function init(args)
  i = id * 7919; bad = 0; first_bad = ""
  if auth ~= nil and auth ~= "" then wrk.headers["Authorization"] = auth end
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  i = i + 1
  local line = lines[(i % #lines) + 1]
  local method, path, body = line:match("^(%S+) (%S+) ?(.*)$")
  if body == "" then body = nil end
  return wrk.format(method, path, nil, body)
end
function response(status, headers, body)
  if status ~= 200 or not body:find(expect, 1, true) then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. body:sub(1, 200) end
  end
end
function done(summary, latency, requests)
  local bad_total, first = 0, ""
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, ' ..
    '"socket_errors": %d, "bad_answers": %d, "first_bad": %q}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.connect + e.read + e.write + e.timeout, bad_total, first))
end
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Round:
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int  # socket errors plus answers that were not 200 with the expected body
    first_error: str
    web_cpu_ms: float  # CPU of the gunicorn workers per request
    db_cpu_ms: float  # CPU of the PostgreSQL backends serving them, per request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (Linux /proc), gone ones counting zero."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def database_backends(database: str) -> list[int]:
    """The PostgreSQL backends connected to `database` (on this host)."""
    out = subprocess.run(
        [  # noqa: S607 - psql from PATH, as the benchmarks' database set-up uses it
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Atc",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' "
            "AND pid <> pg_backend_pid()",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [int(line) for line in out.split()]


class Server:
    """gunicorn serving `module.wsgi:application` with `workers` × `threads` on a free port."""

    def __init__(
        self, *, module: str, workers: int, threads: int, env: dict[str, str], database: str
    ):
        self.database = database
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log")  # noqa: SIM115
        command = [
            str(Path(sys.executable).with_name("gunicorn")),
            f"{module}.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--backlog",
            "2048",
            "--no-control-socket",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
            command, cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=self.log
        )
        self.worker_kind = "sync" if threads == 1 else "gthread"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited: {Path(self.log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise SystemExit("gunicorn did not answer /healthz within 60 s")

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (the workers, the database backends serving them)."""
        return (
            cpu_seconds(children(self.process.pid)),
            cpu_seconds(database_backends(self.database)),
        )

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.base}{path}", timeout=10) as response:  # noqa: S310
            return json.load(response)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian package `wrk`)")
    return path


def wrk_round(
    *,
    server: Server,
    requests_file: Path,
    expect: str,
    seconds: int,
    connections: int,
    auth: str = "",
) -> Round:
    """One closed-loop wrk run (one thread, `connections` keep-alive connections)."""
    web_before, db_before = server.cpu()
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        out = subprocess.run(  # noqa: S603 - wrk with our own arguments
            [
                require_wrk(),
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                server.base,
            ],
            env={
                **os.environ,
                "WRK_REQUESTS": str(requests_file),
                "WRK_EXPECT": expect,
                "WRK_AUTH": auth,
            },
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.unlink(script.name)
    if out.returncode != 0:
        raise SystemExit(f"wrk failed: {out.stderr or out.stdout}")
    web_after, db_after = server.cpu()
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    count = max(1, figures["requests"])
    return Round(
        rate=figures["requests"] / figures["seconds"],
        p50_ms=figures["p50_ms"],
        p99_ms=figures["p99_ms"],
        max_ms=figures["max_ms"],
        requests=figures["requests"],
        errors=figures["socket_errors"] + figures["bad_answers"],
        first_error=figures["first_bad"],
        web_cpu_ms=(web_after - web_before) * 1000 / count,
        db_cpu_ms=(db_after - db_before) * 1000 / count,
    )


def summarise(rounds: list[Round]) -> dict:
    """Median rate and p99 over rounds, the worst p99, and the errors of all rounds."""
    return {
        "requests_per_second": round(statistics.median(r.rate for r in rounds), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in rounds), 2),
        "p99_ms": round(statistics.median(r.p99_ms for r in rounds), 2),
        "p99_ms_worst_round": round(max(r.p99_ms for r in rounds), 2),
        "requests": sum(r.requests for r in rounds),
        "errors": sum(r.errors for r in rounds),
        "first_error": next((r.first_error for r in rounds if r.first_error), ""),
        "web_cpu_ms_per_request": round(statistics.median(r.web_cpu_ms for r in rounds), 3),
        "db_cpu_ms_per_request": round(statistics.median(r.db_cpu_ms for r in rounds), 3),
        "rounds_per_second": [round(r.rate, 1) for r in rounds],
    }


def paired_ratio(measured: list[Round], baseline: list[Round]) -> float:
    """Median over rounds of measured / the baseline round run right before it: drift from
    other load on the machine hits both sides of each pair alike."""
    return round(
        statistics.median(m.rate / b.rate for m, b in zip(measured, baseline, strict=True)), 3
    )


def write_requests(lines: list[str]) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(lines) + "\n")
    return Path(handle.name)
