"""Reads: where the stored holder codes stand, version by version."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, models, transaction
from django.db.models import Q

from shared.accounts.models import User
from shared.core.holder_codes import holder_keyring
from shared.crypto.holder_codes import LEGACY_VERSION, digest_prefix
from shared.holder_keys.models import HolderKeyRetirement, HolderKeyRotation
from shared.licenses.models import License, LicenseVersion

logger = logging.getLogger(__name__)

# Every model that stores a holder code (ciphertext `holder_code_enc` + digest
# `holder_code_digest`), by label. The access log's `holder_digest` is not here: its records
# are append-only and hash-chained, so they keep the digest they were written with.
TARGETS: dict[str, type[models.Model]] = {
    "licenses.license": License,
    "licenses.licenseversion": LicenseVersion,
    "accounts.user": User,
}
DIGEST = "holder_code_digest"


def target_register(label: str, model: type[models.Model]) -> None:
    """An app above this one that stores holder codes the same way adds its model (from its
    AppConfig.ready), so a rotation re-encrypts it and retirement counts its rows."""
    TARGETS[label] = model


def on_version(version: int) -> Q:
    """Rows whose digest (and so ciphertext: they are written together) is under `version`."""
    if version == LEGACY_VERSION:
        return ~Q(**{DIGEST: ""}) & ~Q(**{f"{DIGEST}__contains": ":"})
    return Q(**{f"{DIGEST}__startswith": digest_prefix(version)})


def off_version(version: int) -> Q:
    """Rows holding a code under any version but `version`."""
    return ~Q(**{DIGEST: ""}) & ~on_version(version)


def holder_key_rows_off(*, version: int) -> int:
    return sum(m._default_manager.filter(off_version(version)).count() for m in TARGETS.values())


def holder_key_rows_on(*, version: int) -> dict[str, int]:
    return {
        label: model._default_manager.filter(on_version(version)).count()
        for label, model in TARGETS.items()
    }


def holder_key_retired_versions() -> frozenset[int]:
    """The retired versions; none while the table does not exist yet (migrations running),
    inside a savepoint so a missing table does not abort the caller's transaction."""
    try:
        with transaction.atomic():
            return frozenset(HolderKeyRetirement.objects.values_list("version", flat=True))
    except DatabaseError:
        logger.debug("holder-key retirements unreadable (not migrated yet?)", exc_info=True)
        return frozenset()


def holder_key_status() -> dict[str, Any]:
    """What `holder_keys status` prints: versions configured, rows per version, runs."""
    ring = holder_keyring()
    retired = holder_key_retired_versions()
    versions = sorted(set(ring.keys) | retired, reverse=True)
    return {
        "current": ring.current,
        "versions": [
            {
                "version": v,
                "configured": v in ring.keys,
                "retired": v in retired,
                "rows": holder_key_rows_on(version=v),
            }
            for v in versions
        ],
        "rotations": list(HolderKeyRotation.objects.order_by("-id")[:5]),
    }
