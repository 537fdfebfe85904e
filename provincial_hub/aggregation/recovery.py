"""The hub's copy of a city's licences, handed back to a city restored from an older dump
(issue #16): the city lost what it issued or changed after the dump, the hub still holds it
(it arrived, signed by the city). The city asks by base key (`after-restore`, which compares
digests first); only its own licences are answered."""

from typing import Any

from shared.core.errors import PermanentError
from shared.federation.outbox import licences_by_key, repair_payload

MAX_KEYS = 1000


def city_licences_return(*, city: str, keys: Any) -> list[dict[str, Any]]:
    """Whole-licence repairs of the city's licences named by `keys` that the hub holds."""
    if (
        not isinstance(keys, list)
        or len(keys) > MAX_KEYS
        or not all(isinstance(k, str) and k.count(".") >= 2 for k in keys)
    ):
        raise PermanentError(
            "exchange.recover_keys_invalid",
            f"keys 须为证照基础标识的列表，至多 {MAX_KEYS} 个",
            {"max": MAX_KEYS},
        )
    found = licences_by_key(keys, library_code=city)
    return [repair_payload(found[key]) for key in sorted(found)]
