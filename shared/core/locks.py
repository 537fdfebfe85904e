"""Named locks held to the end of the caller's transaction, for what is made once on first use
by whichever process gets there first (a library's CA and token key): the second caller waits,
then finds what the first made instead of making it again."""

from __future__ import annotations

import hashlib

from django.db import DEFAULT_DB_ALIAS, connections


def transaction_lock(name: str, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Hold `name` until the open transaction ends (PostgreSQL's `pg_advisory_xact_lock`; taken
    again by the same transaction, it is already held). On SQLite every transaction begins
    IMMEDIATE (shared.conf.env), so writers already take turns."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError(f"transaction_lock({name!r}) outside a transaction would not hold")
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, signed=True)])
