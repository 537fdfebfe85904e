"""The canonical byte form of licence data and its SM3 digest.

The digest of a licence version is computed at a node, stored, sent to the hub and recomputed
there, and years later by anyone re-verifying: the byte form must therefore depend only on the
value, never on dict order, the platform, the time zone or the JSON library's defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal

from cryptography.hazmat.primitives import hashes


def _normalise(value: object) -> object:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("canonical_json: NaN and infinity have no canonical form")
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("canonical_json: NaN and infinity have no canonical form")
        # str() keeps the scale ("1.10" stays "1.10"): the digest covers the value as recorded.
        return str(value)
    # datetime before date: datetime is a subclass of date.
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("canonical_json: naive datetimes are refused; use aware datetimes")
        text = value.astimezone(UTC).isoformat()
        return text.removesuffix("+00:00") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        result: dict[str, object] = {}
        for key, item in value.items():
            # Non-string keys would be stringified by json and could collide ({1: …, "1": …}).
            if not isinstance(key, str):
                raise TypeError(
                    f"canonical_json: object keys must be str, not {type(key).__name__}"
                )
            result[key] = _normalise(item)
        return result
    if isinstance(value, list | tuple):
        return [_normalise(item) for item in value]
    # Sets (and anything else) have no defined order or no agreed JSON form.
    raise TypeError(f"canonical_json: unsupported type {type(value).__name__}")


def canonical_json(value: object) -> bytes:
    """Serialise ``value`` to its canonical UTF-8 JSON bytes.

    Contract: object keys sorted, no whitespace (separators ``,`` and ``:``), non-ASCII kept as
    UTF-8; ``datetime`` → ISO 8601 in UTC ending in ``Z`` (naive datetimes raise ``ValueError``);
    ``date`` → ``YYYY-MM-DD``; ``Decimal`` → its ``str()``; tuples → lists; ``str`` subclasses
    (``StrEnum``) → their string value. NaN and infinity raise ``ValueError``; sets, non-string
    keys and any other type raise ``TypeError``. Strings are not Unicode-normalised.
    """
    normalised = _normalise(value)
    text = json.dumps(
        normalised,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def canonical_json_of_data(value: object) -> bytes:
    """`canonical_json` of a value that is already JSON data (dicts with string keys, lists,
    strings, numbers, booleans, None), such as a parsed request body or a JSONField's value:
    the same bytes, at the speed of the C encoder rather than after a walk in Python.

    Dates, datetimes and Decimals still get their canonical form and sets still raise
    `TypeError`; the one check this skips is for non-string keys, which JSON data cannot have
    (the encoder would write `{1: …}` as `{"1": …}`), so use `canonical_json` for anything
    built in Python.
    """
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_normalise,
    )
    return text.encode("utf-8")


def sm3_hex(data: bytes) -> str:
    """The SM3 digest (GB/T 32905) of ``data`` as 64 lower-case hex characters."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def license_version_digest(version_payload: Mapping[str, object]) -> str:
    """The content digest of a licence version: ``sm3_hex(canonical_json(payload))``."""
    return sm3_hex(canonical_json(version_payload))
