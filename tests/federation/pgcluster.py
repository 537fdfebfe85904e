"""A PostgreSQL cluster of a test's own, beside the machine's (Debian's pg_createcluster).

A scenario that restarts PostgreSQL restarts only this one: the machine's cluster serves the
other suites, which may run at the same time (`make test` runs them side by side), and
restarting it would cut their connections. The cluster trusts loopback connections, as the
machine's does, and is dropped when the test ends.
"""

import subprocess
from pathlib import Path

from tests.federation.harness import free_port

NAME = "elicense_fedtest"


def _version() -> str:
    return sorted(Path("/etc/postgresql").iterdir())[-1].name


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {result.stderr[-2000:]}")
    return result.stdout


class Cluster:
    """`url` ends with '/' (append a database name), like harness.PG."""

    def __init__(self) -> None:
        self.version = _version()
        self.port = free_port()
        self.drop()  # a run killed from outside may have left it
        _run(
            "pg_createcluster", self.version, NAME, "-p", str(self.port),
            "--start", "--", "--auth=trust",
        )  # fmt: skip
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/"

    def clone(self, source_db: str, db: str, source_url: str) -> None:
        """Copy a database of the machine's cluster into this one (schema and rows)."""
        _run("psql", self.url + "postgres", "-qc", f"CREATE DATABASE {db}")
        dump = subprocess.run(
            ["pg_dump", "--no-owner", source_url + source_db],
            capture_output=True,
            timeout=120,
            check=True,
        ).stdout
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", self.url + db],
            input=dump,
            capture_output=True,
            timeout=120,
            check=True,
        )

    def restart(self) -> None:
        _run(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            self.version,
            NAME,
            "restart",
            "-m",
            "fast",
        )

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, NAME], capture_output=True, timeout=60
        )
