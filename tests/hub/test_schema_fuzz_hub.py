"""Schema fuzzing of the provincial hub's API v1 (the library API plus exchange, aggregation
and the hub's query): the shared fuzz module, under hub settings."""

from tests.schema_fuzz import *  # noqa: F403
