"""Production differs only by environment variables, and refuses insecure defaults."""

from shared.conf.production import check_production_settings, https_settings

from .base import *  # noqa: F403

DEBUG = False
globals().update(https_settings())
check_production_settings(globals())
