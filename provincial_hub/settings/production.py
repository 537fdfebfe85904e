"""Production differs only by environment variables, and refuses insecure defaults."""

from shared.conf.production import (
    check_production_settings,
    https_settings,
    production_logging,
)

from .base import *  # noqa: F403

DEBUG = False
globals().update(https_settings())
globals().update(production_logging())
check_production_settings(globals())
