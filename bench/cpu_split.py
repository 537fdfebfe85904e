"""Where a benchmark's CPU went: seconds of user + system time per process group, read from
/proc between two snapshots, so that a run prints what each part of the machine cost it.

A group is a library's processes (the harness starts each role as the leader of its own
session, so a gunicorn's or a Celery's children share its session id), a database's
PostgreSQL backends (their title names the database), PostgreSQL's own background processes,
and everything else on the host.
"""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: str) -> tuple[int, float] | None:
    """(session id, CPU seconds) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command may hold spaces and parentheses: the fields start after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[3]), (int(fields[11]) + int(fields[12])) / TICKS


def seconds(pid: str) -> float:
    stat = _stat(pid)
    return stat[1] if stat else 0.0


def parent(pid: str) -> int:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(text[text.rindex(")") + 2 :].split()[1])


def _title(pid: str) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def snapshot(sessions: dict[int, str], databases: dict[str, str]) -> dict[str, float]:
    """CPU seconds so far per group. `sessions`: session id → group; `databases`: database
    name → group for its backends. A process that ended since the last snapshot drops its
    time out of its group, so take snapshots while the measured processes run."""
    totals: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        stat = _stat(pid)
        if stat is None:
            continue
        sid, seconds = stat
        group = sessions.get(sid)
        if group is None:
            title = _title(pid)
            if title.startswith("postgres:"):
                # "postgres: [cluster: ]user database host(port) state" for a backend
                words = title.split()[1:5]
                group = next((databases[w] for w in words if w in databases), "PostgreSQL, other")
            else:
                group = "rest of the host"
        totals[group] = totals.get(group, 0.0) + seconds
    return totals


def difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}


def report(spent: dict[str, float], *, per: int, unit: str) -> str:
    """One line: each group's CPU microseconds per `per` units, largest first."""
    if per <= 0:
        return f"CPU per {unit}: nothing was measured"
    total = sum(v for v in spent.values() if v > 0)
    parts = [
        f"{name} {seconds * 1e6 / per:.0f}"
        for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1])
        if seconds > 0.005
    ]
    return f"CPU µs per {unit}: total {total * 1e6 / per:.0f} = " + ", ".join(parts)
