"""What the files app listens to: `license_changed` → file rows, in the licence change's own
transaction. Wired by `FilesConfig.ready()` (see `shared.core.effects`)."""

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from shared.files import verify_cache
from shared.files.models import SigningKey
from shared.files.services import license_file_schedule
from shared.files.signals import trust_material_changed
from shared.licenses.signals import license_changed


def schedule_files(sender: Any, license: Any, event: Any, new_version: bool, **kwargs: Any) -> None:
    license_file_schedule(license=license, event=event, new_version=new_version)


def forget_verified(sender: Any, license: Any, **kwargs: Any) -> None:
    # A scan in this process shows the change at once (other processes within
    # VERIFY_STATUS_SECONDS); again after commit, in case a scan read the old row meanwhile.
    verify_cache.forget(license.pk)
    transaction.on_commit(lambda: verify_cache.forget(license.pk))


def key_created(sender: Any, instance: SigningKey, created: bool, **kwargs: Any) -> None:
    # Every new key (a CA, a first seal of an agency, a token key) changes the library's trust
    # material: the tier sends it up after commit (rotations and revocations signal too).
    if created:
        trust_material_changed.send(sender=SigningKey)


def connect() -> None:
    license_changed.connect(schedule_files, dispatch_uid="files.schedule")
    license_changed.connect(forget_verified, dispatch_uid="files.forget_verified")
    post_save.connect(key_created, sender=SigningKey, dispatch_uid="files.key_created")
