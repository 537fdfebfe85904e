"""One licence codec: the columns of a licence, its versions and its events, and their wire form.

A licence's columns are read in many places — the issuing service writes them and copies them
into each version, the outbox sends them as a JSON snapshot (schema 1 of the exchange, DESIGN
§6), the receiver writes them back (one by one in `shared.federation.apply`, as COPY rows in
`shared.federation.bulk_apply`), the content digest covers a version's and the API shows them.
They are listed here once, as tables of `Column`s; everything else takes its fields from them.

The snapshot is a wire format: old nodes and the hub must keep reading each other, and the
digests computed over it must not move. Its keys, their order and the form of every value are
pinned by tests (`tests/shared/licenses/test_licenses_codec.py`); a change here is a new schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

_enc = DjangoJSONEncoder()


class Kind(Enum):
    """How a column's value is written in a snapshot."""

    VALUE = "value"  # as stored: text, number, flag or a JSON object
    DATE = "date"  # YYYY-MM-DD, or null
    MOMENT = "moment"  # ISO 8601 as Django's JSON encoder writes it (milliseconds, Z), or null
    ACTOR = "actor"  # an event's actor: the user's name, or the one its data recorded


class Shown(Enum):
    """Who sees a column through the API."""

    NOBODY = 0  # bookkeeping (the event counter): travels, never shown
    ISSUER = 1  # the issuing agency and the library administrator
    EVERYONE = 2  # consumers too, in a share answer


@dataclass(frozen=True, slots=True, kw_only=True)
class Column:
    """One column of a licence, version or event table.

    - ``name``: the model attribute, and the snapshot key unless ``holder`` is set;
    - ``holder``: the column travels inside the snapshot's ``holder`` object, under this key;
    - ``key``: part of the natural key (issuer, type, serial): the receiver finds the row by
      it and writes it only when it creates the row;
    - ``received``: the receiver writes it (False: the receiver keeps its own, e.g. the time
      it wrote the row);
    - ``stored``: the table columns behind an attribute that is not one (the holder code is a
      property over its ciphertext and lookup digest);
    - ``content``: part of a version's content: copied from the licence when a version is
      written, and covered by the content digest;
    - ``optional``: added to schema 1 after it was pinned: written only when it holds a value
      and read as null when absent, so a snapshot without it (an older peer's, or a licence
      that never had it) is byte-identical to what schema 1 wrote, and either age reads the
      other's.
    """

    name: str
    kind: Kind = Kind.VALUE
    holder: str = ""
    key: bool = False
    received: bool = True
    stored: tuple[str, ...] = ()
    content: bool = False
    shown: Shown = Shown.ISSUER
    optional: bool = False


def _col(name: str, kind: Kind = Kind.VALUE, **flags: Any) -> Column:
    return Column(name=name, kind=kind, **flags)


_D, _M = Kind.DATE, Kind.MOMENT
_ALL = Shown.EVERYONE
_HOLDER_CODE_STORED = ("holder_code_enc", "holder_code_digest")

# The licence row, in snapshot order. The snapshot writes the type's code and the issuer
# agency just before the serial: the three make the natural key.
LICENSE: tuple[Column, ...] = (
    _col("identifier", shown=_ALL),
    _col("serial", key=True),
    _col("version", shown=_ALL),
    _col("number", shown=_ALL),
    _col("status", shown=_ALL),
    _col("pledged", shown=_ALL),
    _col("pledgee"),
    _col("pledge_until", _D),
    _col("holder_name", holder="name", shown=_ALL),
    _col("holder_code", holder="code", stored=_HOLDER_CODE_STORED, shown=_ALL),
    _col("holder_code_type", holder="code_type", shown=_ALL),
    _col("issue_date", _D, shown=_ALL),
    _col("valid_from", _D, shown=_ALL),
    _col("valid_to", _D, shown=_ALL),
    _col("area_code", shown=_ALL),
    _col("matter_code"),
    _col("surface", shown=_ALL),
    _col("mode"),
    _col("case_completed_at", _M),
    _col("sync_deadline", _D),
    _col("sync_deadline_provisional"),
    _col("content_digest", shown=_ALL),
    _col("library_code", shown=_ALL),
    _col("last_event_seq", shown=Shown.NOBODY),
    # The latest year of annual inspection (网络年检, art. 26) the issuer approved.
    _col("inspected_year", optional=True),
)

# An immutable version, in snapshot order.
VERSION: tuple[Column, ...] = (
    _col("version", content=True),
    _col("identifier", content=True),
    _col("number", content=True),
    _col("holder_name", holder="name", content=True),
    _col("holder_code", holder="code", stored=_HOLDER_CODE_STORED, content=True),
    _col("holder_code_type", holder="code_type", content=True),
    _col("issue_date", _D, content=True),
    _col("valid_from", _D, content=True),
    _col("valid_to", _D, content=True),
    _col("matter_code", content=True),
    _col("surface", content=True),
    _col("previous_identifier"),
    _col("content_digest"),
    _col("created_at", _M, received=False),
)

# A licence event, in snapshot order. The actor travels by name; the receiver keeps it in the
# event's data (its users are not the sender's).
EVENT: tuple[Column, ...] = (
    _col("seq"),
    _col("action"),
    _col("from_status"),
    _col("to_status"),
    _col("version"),
    _col("identifier"),
    _col("reason"),
    _col("data"),
    _col("actor", Kind.ACTOR, received=False),
    _col("actor_agency_code"),
    _col("created_at", _M, received=False),
)


# --- writing: a row to its snapshot ----------------------------------------------------------


def _iso(value: Any) -> Any:
    return None if value is None else _enc.default(value)


def _actor(event: Any) -> str:
    return event.actor.username if event.actor_id else event.data.get("actor", "")


def _put(column: Column, row: Any, into: dict[str, Any]) -> None:
    if column.kind is Kind.ACTOR:
        value = _actor(row)
    elif column.kind is Kind.VALUE:
        value = getattr(row, column.name)
    else:
        value = _iso(getattr(row, column.name))
    if column.optional and value is None:
        return
    if column.holder:
        into.setdefault("holder", {})[column.holder] = value
    else:
        into[column.name] = value


def _dump(columns: tuple[Column, ...], row: Any, into: dict[str, Any]) -> dict[str, Any]:
    for column in columns:
        _put(column, row, into)
    return into


def license_dump(lic: Any, *, type_code: str, issuer: dict[str, Any]) -> dict[str, Any]:
    """The licence's snapshot; `issuer` is its agency's snapshot."""
    data: dict[str, Any] = {}
    for column in LICENSE:
        if column.key:
            data["type_code"], data["issuer"] = type_code, issuer
        _put(column, lic, data)
    return data


def version_dump(version: Any) -> dict[str, Any]:
    return _dump(VERSION, version, {})


def event_dump(event: Any) -> dict[str, Any]:
    return _dump(EVENT, event, {})


def holder(row: Any) -> dict[str, str]:
    """The holder of a licence or version, as the snapshot and the API write it."""
    return {c.holder: getattr(row, c.name) for c in LICENSE if c.holder}


# --- reading: a snapshot to a row's columns --------------------------------------------------


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


_PARSE: dict[Kind, Callable[[Any], Any]] = {Kind.DATE: _date, Kind.MOMENT: _moment}


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to read the columns a receiver writes, grouped by how: built once per table, as
    bulk ingest reads thousands of snapshots a second and a test per column per snapshot
    would cost it more than the hand-written reads did."""

    plain: tuple[str, ...]  # as they are
    optional: tuple[str, ...]  # as they are, null when absent
    held: tuple[tuple[str, str], ...]  # (attribute, key) inside "holder"
    parsed: tuple[tuple[str, Callable[[Any], Any]], ...]  # (attribute, parser)


def _plan(columns: tuple[Column, ...]) -> _Plan:
    received = [c for c in columns if c.received and not c.key]
    plain = [c for c in received if c.kind is Kind.VALUE and not c.holder]
    return _Plan(
        plain=tuple(c.name for c in plain if not c.optional),
        optional=tuple(c.name for c in plain if c.optional),
        held=tuple((c.name, c.holder) for c in received if c.holder),
        parsed=tuple((c.name, _PARSE[c.kind]) for c in received if c.kind is not Kind.VALUE),
    )


_LICENSE_PLAN, _VERSION_PLAN, _EVENT_PLAN = _plan(LICENSE), _plan(VERSION), _plan(EVENT)


def _load(plan: _Plan, snap: dict[str, Any]) -> dict[str, Any]:
    row = {name: snap[name] for name in plan.plain}
    for name in plan.optional:
        row[name] = snap.get(name)
    if plan.held:
        held = snap["holder"]
        for name, key in plan.held:
            row[name] = held[key]
    for name, parse in plan.parsed:
        row[name] = parse(snap[name])
    return row


def license_fields(snap: dict[str, Any]) -> dict[str, Any]:
    """The attributes a receiver writes on a licence from its snapshot (the natural key and
    relations aside); the holder code in plain text, for the model's setter."""
    return _load(_LICENSE_PLAN, snap)


def version_fields(snap: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a received version (the holder code in plain text)."""
    return _load(_VERSION_PLAN, snap)


def event_fields(snap: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a received event, the sender's actor kept in its data."""
    row = _load(_EVENT_PLAN, snap)
    if snap.get("actor"):
        row["data"] = {**row["data"], "actor": snap["actor"]}
    else:
        row["data"] = dict(row["data"])
    return row


# --- the columns, for other uses -------------------------------------------------------------


def stored_columns(columns: tuple[Column, ...]) -> list[str]:
    """The table columns a receiver overwrites on a row it holds (bulk repair's UPDATE)."""
    return [
        stored for c in columns if c.received and not c.key for stored in (c.stored or (c.name,))
    ]


def version_content(row: Any) -> dict[str, Any]:
    """The attributes a version copies from its licence (`row`) when it is written."""
    return {c.name: getattr(row, c.name) for c in VERSION if c.content}


# The content columns as plain values: the canonical form writes dates its own way.
_CONTENT = tuple(Column(name=c.name, holder=c.holder) for c in VERSION if c.content)


def content(
    row: Any, *, type_code: str, issuer_code: str, previous_identifier: str
) -> dict[str, Any]:
    """What a version's content digest covers (`shared.domain.canonical`), from a licence or
    version row: its content columns as values, with its type, issuer and predecessor."""
    return _dump(_CONTENT, row, {}) | {
        "type_code": type_code,
        "issuer_code": issuer_code,
        "previous_identifier": previous_identifier,
    }


def api_fields(columns: tuple[Column, ...], audience: Shown = Shown.ISSUER) -> list[str]:
    """The API fields of the columns `audience` sees, the holder's as one `holder` field."""
    fields: list[str] = []
    for c in columns:
        name = "holder" if c.holder else c.name
        if c.shown.value >= audience.value and name not in fields:
            fields.append(name)
    return fields
