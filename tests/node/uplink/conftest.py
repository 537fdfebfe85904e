"""File announcements need rendered files: the fixtures of the files tests (tests/shared/files)."""

from tests.shared.files.conftest import *  # noqa: F403
