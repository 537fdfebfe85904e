"""What the files app listens to: `license_changed` → file rows, in the licence change's own
transaction. Wired by `FilesConfig.ready()` (see `shared.core.effects`)."""

from typing import Any

from django.db.models.signals import post_save

from shared.files.models import SigningKey
from shared.files.services import license_file_schedule
from shared.files.signals import trust_material_changed
from shared.licenses.signals import license_changed


def schedule_files(sender: Any, license: Any, event: Any, new_version: bool, **kwargs: Any) -> None:
    license_file_schedule(license=license, event=event, new_version=new_version)


def key_created(sender: Any, instance: SigningKey, created: bool, **kwargs: Any) -> None:
    # Every new key (a CA, a first seal of an agency, a token key) changes the library's trust
    # material: the tier sends it up after commit (rotations and revocations signal too).
    if created:
        trust_material_changed.send(sender=SigningKey)


def connect() -> None:
    license_changed.connect(schedule_files, dispatch_uid="files.schedule")
    post_save.connect(key_created, sender=SigningKey, dispatch_uid="files.key_created")
