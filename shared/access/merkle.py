"""Moved to `shared.crypto.merkle` (pure crypto). Kept only for `shared.access.witness`, which is
moving to the hub in a parallel change: delete this file once it imports the new path."""

from shared.crypto.merkle import verify_consistency  # noqa: F401 - the old import path
