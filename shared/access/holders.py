"""Moved to `shared.core.holder_codes` (and the cipher to `shared.crypto.holder_codes`). Kept
only for `shared.federation.bulk_apply`, changed in a parallel branch: delete this file once it
imports the new path."""

from shared.core.holder_codes import (  # noqa: F401 - the old import path
    holder_code_digest,
    holder_code_encrypt,
)
