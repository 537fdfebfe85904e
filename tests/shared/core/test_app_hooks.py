"""The checks at issuing that licences leave to the apps above them are registered by those
apps (issue #11: licences import neither access nor files)."""

from shared.access.registry import registry_check
from shared.files.printable import license_print_check
from shared.licenses import checks


def test_access_and_files_register_the_issue_checks():
    assert checks._holder_check is registry_check
    assert checks._print_check is license_print_check
