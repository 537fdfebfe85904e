"""Inserting many rows of one model at COPY speed, inside the caller's transaction.

Django's `bulk_create` builds one giant INSERT that the driver then parses again on the client;
for thousands of rows a minute that costs more than the database's own work. On PostgreSQL
`copy_values` (rows as column values) and `copy_insert` (model objects) stream the rows with
binary COPY instead (row triggers fire as for an INSERT); the values are prepared by each field
exactly as the ORM would prepare them for an INSERT. Elsewhere (SQLite in the demo) it is
`bulk_create`.
"""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import orjson
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

# Values that a field of exactly these classes would pass to the database unchanged: they go
# to COPY as they are; anything else takes the field's own preparation (`get_db_prep_save`),
# exactly as the ORM would prepare it for an INSERT.
_AS_IS: dict[type[models.Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.BooleanField: (bool,),
    models.IntegerField: (int,),
    models.BigIntegerField: (int,),
    models.PositiveIntegerField: (int,),
    models.PositiveSmallIntegerField: (int,),
    models.SmallIntegerField: (int,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    models.ForeignKey: (int,),
    models.OneToOneField: (int,),
    models.BinaryField: (bytes,),
    models.FloatField: (float,),
}


def copy_insert(objs: Sequence[models.Model], *, with_ids: bool = False) -> None:
    """Insert `objs` (all of one model, not saved yet) with `copy_values`, each field's value as
    `pre_save` gives it (timestamps set on the objects as `save()` would). `with_ids`: draw
    their primary keys from the table's sequence first and set them on the objects (for rows
    that others point at); otherwise the database assigns them and the objects do not learn
    them."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(objs)
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    rows = [{f.attname: f.pre_save(obj, True) for f in fields} for obj in objs]
    ids = copy_values(model, rows, with_ids=with_ids)
    for obj, pk in zip(objs, ids, strict=False):
        obj.pk = pk
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


_TYPES: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def _column(field: "models.Field[Any, Any] | Any") -> str:
    """The column of a concrete field (Django types it optional, for fields that have none)."""
    return cast(str, field.column)


def _column_types(cursor: Any, table: str, columns: list[str]) -> list[int]:
    """The type OIDs of `columns` of `table`, for a binary COPY (read once per process)."""
    key = (table, tuple(columns))
    if key not in _TYPES:
        found = dict(
            cursor.execute(
                "SELECT attname, atttypid::int FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                [table],
            ).fetchall()
        )
        _TYPES[key] = [found[c] for c in columns]
    return _TYPES[key]


def _json_text(value: Any) -> bytes | str:
    """A JSON column's text: orjson (≈ 13 % of the hub's ingest CPU went to `json.dumps`, which
    orjson does several times faster); what orjson refuses (an integer past 64 bits) through
    the standard encoder. No NaN or infinity reaches here: request bodies refuse them
    (`shared.core.api.parsers`), and the standard encoder would refuse them too."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _next_ids(connection: Any, meta: Any, count: int) -> list[int]:
    """`count` new primary keys of the table, drawn from its sequence."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, _column(meta.pk), count],
        )
        return [pk for (pk,) in cursor.fetchall()]


@dataclass(slots=True)
class _Plan:
    """How `copy_values` writes each column of a model: the attname it reads, its default,
    the types that go to COPY as they are, and the columns that take special care."""

    fields: list["models.Field[Any, Any]"]
    names: list[str]
    defaults: list[Any]
    accepted: list[frozenset[type]]
    jsons: list[int]  # plain JSON: through one encoder (Django's built one per value)
    moments: list[int]  # timestamps: a naive one takes the field's preparation
    key: int | None  # the primary key's position, when the caller draws the keys


def _plan(meta: Any, *, with_ids: bool, now: datetime) -> _Plan:
    plan = _Plan([], [], [], [], [], [], None)
    for field in meta.concrete_fields:
        if field.primary_key and not with_ids:
            continue
        position = len(plan.fields)
        plan.fields.append(field)
        plan.names.append(field.attname)
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            plan.defaults.append(now)
        else:
            plan.defaults.append(None if field.primary_key else field.get_default())
        kind: tuple[type, ...] = _AS_IS.get(type(field), ())
        if type(field) is models.DateField:
            kind = (date,)
        elif type(field) is models.DateTimeField:
            kind = (datetime,)
            plan.moments.append(position)
        elif type(field) is models.JSONField and field.encoder is None:
            kind = (Jsonb,)
            plan.jsons.append(position)
        if field.primary_key:
            plan.key = position
        plan.accepted.append(frozenset((type(None), *kind)))
    return plan


_ACCEPTS = frozenset.__contains__


def _row_values(plan: _Plan, row: dict[str, Any], connection: Any) -> list[Any]:
    """A row's values for COPY. The common case (every value of a type COPY takes as it is)
    is checked in a few C-level passes; ≈ 25 % of the hub's ingest went to checking each
    value of each row in Python."""
    values = list(map(row.get, plan.names, plan.defaults))
    for i in plan.jsons:
        if values[i] is not None:
            values[i] = Jsonb(values[i], dumps=_json_text)
    for i in plan.moments:
        value = values[i]
        if type(value) is datetime and value.tzinfo is None:
            values[i] = plan.fields[i].get_db_prep_save(value, connection)
    oks = list(map(_ACCEPTS, plan.accepted, map(type, values)))
    if not all(oks):
        for i, ok in enumerate(oks):
            if not ok:
                values[i] = plan.fields[i].get_db_prep_save(values[i], connection)
    return values


def copy_values(
    model: type[models.Model], rows: Sequence[dict[str, Any]], *, with_ids: bool = False
) -> list[int]:
    """Insert `rows` of `model` given as {attname: value}, without building model instances
    (thousands a second: their constructors would cost more than the database's work).
    Columns a row leaves out take the field's default, `auto_now(_add)` timestamps the time
    of the call; each value is prepared as the ORM would for an INSERT. Property setters and
    `save()` do not run: give the stored columns. Returns the new primary keys when
    `with_ids` (drawn from the table's sequence first), in the order of `rows`."""
    if not rows:
        return []
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create([model(**row) for row in rows])
        return [obj.pk for obj in objs] if with_ids else []
    ids = _next_ids(connection, meta, len(rows)) if with_ids else []
    plan = _plan(meta, with_ids=with_ids, now=timezone.now())
    columns = ", ".join(connection.ops.quote_name(_column(f)) for f in plan.fields)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        types = _column_types(raw, meta.db_table, [_column(f) for f in plan.fields])
        # Binary, as the fastest COPY is: the database does not parse each value from text.
        with raw.copy(
            f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN "
            "(FORMAT BINARY)"
        ) as copy:
            copy.set_types(types)
            for n, row in enumerate(rows):
                values = _row_values(plan, row, connection)
                if plan.key is not None:
                    values[plan.key] = ids[n]
                copy.write_row(values)
    return ids


def copy_update(objs: Sequence[models.Model], fields: list[str]) -> None:
    """Write `fields` of saved `objs` (all of one model): on PostgreSQL the new values go by
    COPY into a temporary table and one UPDATE … FROM sets them (row triggers fire as for any
    UPDATE); elsewhere `bulk_update`."""
    if not objs:
        return
    model = type(objs[0])
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    meta = model._meta
    pk = meta.pk
    # Concrete fields: `get_field` also finds reverse relations, which `fields` never names.
    columns = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in fields]
    quote = connection.ops.quote_name
    table, temp = quote(meta.db_table), quote(f"_update_{meta.db_table}")
    names = ", ".join(quote(_column(f)) for f in columns)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS "  # noqa: S608 - model names only
            f"SELECT {quote(_column(pk))}, {names} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {temp} ({quote(_column(pk))}, {names}) FROM STDIN") as copy:
            for obj in objs:
                copy.write_row(
                    [pk.get_db_prep_save(obj.pk, connection)]
                    + [f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns]
                )
        assignments = ", ".join(f"{quote(_column(f))} = t.{quote(_column(f))}" for f in columns)
        cursor.execute(
            f"UPDATE {table} AS o SET {assignments} FROM {temp} AS t "  # noqa: S608
            f"WHERE o.{quote(_column(pk))} = t.{quote(_column(pk))}"
        )
        cursor.execute(f"DROP TABLE {temp}")


def present(model: type[models.Model], field: str, values: Iterable[Any]) -> set[Any]:
    """Which of `values` rows of `model` hold in `field`. On PostgreSQL one array parameter
    (`= ANY(%s)`): `__in` writes a placeholder per value, and psycopg parses a query of a
    thousand placeholders anew on every call (8 % of the hub's ingest, bench/sync)."""
    wanted = list(set(values))
    if not wanted:
        return set()
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql":
        rows = model._default_manager.filter(**{f"{field}__in": wanted})
        return set(rows.values_list(field, flat=True))
    quote = connection.ops.quote_name
    column, table = quote(_column(model._meta.get_field(field))), quote(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [wanted])  # noqa: S608 - the model's own names
        return {row[0] for row in cursor.fetchall()}
