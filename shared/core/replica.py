"""Where reads that may be seconds stale go: the hub's streaming replica when it has one.

Chosen explicitly, call by call (`.using(stale_reads_alias())`), not by a database router: a
router would also send a read that follows a write in the same request to a standby that has
not replayed that write yet. Only selectors whose answer is a report or a chart (statistics,
the hub console's arrivals and lag) use it.
"""

from django.conf import settings


def stale_reads_alias() -> str:
    """The alias of `settings.STALE_READS_DATABASE`: `replica` at a hub configured with
    DATABASE_REPLICA_URL, `default` everywhere else."""
    return str(settings.STALE_READS_DATABASE)
