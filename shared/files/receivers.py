"""`license_changed` → file rows, in the licence change's own transaction."""

from typing import Any

from django.dispatch import receiver

from shared.files.services import license_file_schedule
from shared.licenses.signals import license_changed


@receiver(license_changed, dispatch_uid="files.schedule")
def schedule_files(sender: Any, license: Any, event: Any, new_version: bool, **kwargs: Any) -> None:
    license_file_schedule(license=license, event=event, new_version=new_version)
