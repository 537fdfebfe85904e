"""SQL that makes the access log append-only for the application's own database role.

The application connects as a role that does not own the tables (production); this grants it
what it needs and nothing that could rewrite history: INSERT and SELECT on the log, UPDATE of
the three chain columns only (the sequencer, further limited by the trigger to rows without a
`seq`), and EXECUTE on `access_log_purge` and on the partition functions (which re-check
retention in the database).
"""

LOG_TABLES = ("access_accessrecord", "access_checkpoint", "access_leafstub", "access_witness")


def append_only_grants_sql(role: str) -> str:
    if not role.replace("_", "").isalnum():
        raise ValueError("role must be a plain identifier")
    lines = []
    for table in LOG_TABLES:
        lines.append(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {role};")
        lines.append(f"GRANT SELECT, INSERT ON {table} TO {role};")
    lines += [
        f"GRANT UPDATE (seq, prev_hash, record_hash) ON access_accessrecord TO {role};",
        f"GRANT USAGE ON SEQUENCE access_accessrecord_id_seq TO {role};",
        f"GRANT USAGE ON SEQUENCE access_checkpoint_id_seq TO {role};",
        f"GRANT USAGE ON SEQUENCE access_witness_id_seq TO {role};",
        f"GRANT EXECUTE ON FUNCTION access_log_purge(bigint, bigint, int) TO {role};",
        # The partitioned log (migration 0010): new months and the purge's DROP run as the
        # owner through these SECURITY DEFINER functions, never as this role.
        f"GRANT EXECUTE ON FUNCTION access_log_partition_ensure(date) TO {role};",
        f"GRANT EXECUTE ON FUNCTION access_log_partition_waiting() TO {role};",
        f"GRANT EXECUTE ON FUNCTION access_log_partition_drop(date, int) TO {role};",
    ]
    return "\n".join(lines) + "\n"
