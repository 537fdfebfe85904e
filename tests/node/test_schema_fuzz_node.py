"""Schema fuzzing of the city node's API v1: the shared fuzz module, under node settings."""

from tests.schema_fuzz import *  # noqa: F403
