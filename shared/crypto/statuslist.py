"""Bitstring status lists in the manner of W3C Bitstring Status List v1.0 (pure).

A list is a bitstring of at least 131,072 entries (16 KiB: large enough that a verifier who
fetches it reveals nothing about which licence it checks); bit *i* is the *i*-th bit counting
from the most significant bit of the first byte. ``encode`` GZIP-compresses it and writes
multibase base64url (prefix ``u``, no padding), as the W3C ``encodedList``.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

__all__ = ["MIN_ENTRIES", "decode", "encode", "is_set"]

MIN_ENTRIES = 131_072


def encode(indexes: Iterable[int], *, size: int = MIN_ENTRIES) -> str:
    """The ``encodedList`` with every bit in ``indexes`` set."""
    if size < MIN_ENTRIES or size % 8:
        raise ValueError(f"a status list has at least {MIN_ENTRIES} entries, a multiple of 8")
    bits = bytearray(size // 8)
    for index in indexes:
        if not 0 <= index < size:
            raise ValueError(f"status index {index} outside the list")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0: the same bits always give the same bytes (stable ETag, cacheable).
    packed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode(encoded: str) -> bytes:
    if not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url (prefix 'u')")
    body = encoded[1:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    bits = gzip.decompress(raw)
    if len(bits) * 8 < MIN_ENTRIES:
        raise ValueError("status list shorter than the minimum")
    return bits


def is_set(bits: bytes, index: int) -> bool:
    if not 0 <= index < len(bits) * 8:
        raise ValueError(f"status index {index} outside the list")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))
