"""Input fuzzing (nesting, Unicode, numbers) of the provincial hub's JSON-taking operations
(the library API plus exchange and aggregation): the shared module, under hub settings."""

from tests.input_fuzz import *  # noqa: F403
