"""How busy the host was while a benchmark ran: the figures of a run are comparable with
another's only on an equally quiet machine (docs/performance.md says which rows were)."""

import os


def host_load(label: str) -> str:
    one, five, fifteen = os.getloadavg()
    cores = os.cpu_count() or 1
    line = (
        f"host load {label}: {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min) on {cores} cores"
    )
    print(line, flush=True)
    return line
