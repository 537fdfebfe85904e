"""Settings package: DJANGO_ENV picks local (default), production or test."""

import os

_env = os.environ.get("DJANGO_ENV", "local")
if _env == "production":
    from .production import *  # noqa: F403
elif _env == "test":
    from .test import *  # noqa: F403
else:
    from .local import *  # noqa: F403
