"""Race-free counters in one round trip.

`INSERT … ON CONFLICT … DO UPDATE … RETURNING` creates the counter row on first use and
increments it otherwise; the row lock it takes lasts until commit, so concurrent callers queue
on it and never share a value (PostgreSQL and SQLite ≥ 3.35 alike).
"""

from typing import Any, cast

from django.db import connection, models


def _column_of(model: type[models.Model], name: str) -> str:
    """The column of `model`'s concrete field `name` (`get_field` also finds reverse relations,
    which have none, so Django types it optional)."""
    field = cast("models.Field[Any, Any]", model._meta.get_field(name))
    return cast(str, field.column)


def counter_next(model: type[models.Model], keys: dict[str, Any], column: str = "last") -> int:
    """Add one to `column` of the row of `model` named by `keys` (its unique fields) and return
    the new value; the row is created at 1 when missing."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = [connection.ops.quote_name(_column_of(model, k)) for k in keys]
    value = connection.ops.quote_name(column)
    sql = (
        f"INSERT INTO {table} ({', '.join(names)}, {value}) "  # noqa: S608 - model names only
        f"VALUES ({', '.join(['%s'] * len(names))}, 1) "
        f"ON CONFLICT ({', '.join(names)}) DO UPDATE SET {value} = {table}.{value} + 1 "
        f"RETURNING {value}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(keys.values()))
        return int(cursor.fetchone()[0])
