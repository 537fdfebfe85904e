"""A PostgreSQL cluster of a test's own, beside the machine's (Debian's pg_createcluster).

A scenario that restarts PostgreSQL restarts only this one: the machine's cluster serves the
other suites, which may run at the same time (`make test` runs them side by side), and
restarting it would cut their connections. The cluster trusts loopback connections, as the
machine's does, and is dropped when the test ends.
"""

import shutil
import subprocess
from pathlib import Path

from tests.federation.harness import SUFFIX, free_port

NAME = f"elicense_fedtest{SUFFIX}"  # one per pytest-xdist worker (harness.SUFFIX)


def _version() -> str:
    return sorted(Path("/etc/postgresql").iterdir())[-1].name


def _run(*args: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {result.stderr[-2000:]}")
    return result.stdout


class Cluster:
    """`url` ends with '/' (append a database name), like harness.PG; `query` follows the
    database name in a URL (harness.Library.pg_query)."""

    query = ""

    def __init__(self, name: str = NAME, *, start: bool = True, **gucs: str) -> None:
        """`gucs`: postgresql.conf settings of this cluster (`max_locks_per_transaction="128"`)."""
        self.version = _version()
        self.name = name
        self.port = free_port()
        self.drop()  # a run killed from outside may have left it
        options = [f"--pgoption={guc}={value}" for guc, value in gucs.items()]
        _run(
            "pg_createcluster", self.version, name, "-p", str(self.port), *options,
            *(["--start"] if start else []), "--", "--auth=trust",
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
            self.name,
            "restart",
            "-m",
            "fast",
        )

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", self.version, self.name], capture_output=True, timeout=60
        )

    def ctl(self, *args: str) -> None:
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, *args)

    def sql(self, query: str, db: str = "postgres") -> list[tuple[str, ...]]:
        out = _run("psql", self.url + db, "-AtF", "\t", "-c", query)
        return [tuple(line.split("\t")) for line in out.splitlines() if line]


class StandbyPair:
    """A primary and a hot standby streaming from it (`pg_basebackup -R`), two clusters on two
    ports; `url` names both in libpq's multi-host form and `query` asks for the one that
    accepts writes, as the hub's DATABASE_URL does in production (docs/operations.md 高可用).

    Replication is asynchronous (PostgreSQL's default): a commit the primary had not yet sent
    when it died is lost with it, and the exchange protocol's gap answer makes the city resend
    it (shared.federation.relay), which is what the failover drill proves."""

    query = "?target_session_attrs=read-write"

    def __init__(self) -> None:
        self.primary = Cluster(f"{NAME}_primary")
        self.standby = Cluster(f"{NAME}_standby", start=False)
        data = Path(f"/var/lib/postgresql/{self.standby.version}/{self.standby.name}")
        # the standby starts as a copy of the primary's data directory, told where to stream from
        shutil.rmtree(data)
        _run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        _run("chown", "-R", "postgres:postgres", str(data))
        data.chmod(0o700)
        self.standby.ctl("start")
        self.url = (
            f"postgresql://postgres@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}/"
        )
        self.version = self.primary.version

    def clone(self, source_db: str, db: str, source_url: str) -> None:
        """Into the primary; the standby receives it by streaming."""
        self.primary.clone(source_db, db, source_url)

    def streaming(self) -> list[tuple[str, ...]]:
        """The primary's pg_stat_replication: (state, sync_state) per standby."""
        return self.primary.sql("SELECT state, sync_state FROM pg_stat_replication")

    def replayed(self) -> bool:
        """Has the standby replayed everything the primary has written so far?"""
        lsn = self.primary.sql("SELECT pg_current_wal_lsn()")[0][0]
        return self.standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == [("t",)]

    def fail_over(self) -> None:
        """The primary dies (immediate: no checkpoint, clients cut) and the standby is promoted."""
        self.primary.ctl("stop", "-m", "immediate")
        self.standby.ctl("promote")

    def drop(self) -> None:
        self.standby.drop()
        self.primary.drop()
