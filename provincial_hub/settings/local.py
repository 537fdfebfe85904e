"""Development defaults: embedded SQLite and a filesystem broker unless URLs are given."""

from .base import *  # noqa: F403
