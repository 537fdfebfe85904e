"""What the files app listens to: `license_changed` → file rows, in the licence change's own
transaction. Wired by `FilesConfig.ready()` (see `shared.core.effects`)."""

from typing import Any

from shared.files.services import license_file_schedule
from shared.licenses.signals import license_changed


def schedule_files(sender: Any, license: Any, event: Any, new_version: bool, **kwargs: Any) -> None:
    license_file_schedule(license=license, event=event, new_version=new_version)


def connect() -> None:
    license_changed.connect(schedule_files, dispatch_uid="files.schedule")
