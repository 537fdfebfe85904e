"""Field snapshots for an audit row's `before` / `after`, never with a secret in them."""

import datetime
import decimal
import uuid
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.utils import timezone

# Never copied into an audit row, whatever the caller asks: password hashes, token digests,
# encrypted private keys, holder codes (their ciphertext and keyed digest included). A caller
# names further fields in `exclude`; `audit_record` drops these names from any dict it is given.
SECRET_FIELDS = frozenset(
    {
        "password",
        "secret",
        "token",
        "digest",
        "private_pem",
        "private_key_pem",
        "key_password",
        "holder_code",
        "holder_code_enc",
        "holder_code_digest",
    }
)


def json_value(value: Any) -> Any:
    """A field value as JSON can carry it; binary values (ciphertext) are not kept."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    return value


def model_snapshot(obj: models.Model, *, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The concrete fields of `obj` (a foreign key as its id, under the field's name), without
    `exclude` and without `SECRET_FIELDS`."""
    skip = SECRET_FIELDS | set(exclude)
    return {
        field.name: json_value(field.value_from_object(obj))
        for field in obj._meta.concrete_fields
        if field.name not in skip and not isinstance(field, models.BinaryField)
    }


def scrubbed(data: Any) -> Any:
    """`data` with every key named in `SECRET_FIELDS` removed, at any depth."""
    if isinstance(data, dict):
        return {k: scrubbed(v) for k, v in data.items() if k not in SECRET_FIELDS}
    if isinstance(data, list | tuple):
        return [scrubbed(v) for v in data]
    return data
