"""Input fuzzing (nesting, Unicode, numbers) of the city node's JSON-taking operations: the
shared module, under node settings."""

from tests.input_fuzz import *  # noqa: F403
