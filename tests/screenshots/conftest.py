"""`make screenshots`: the browser tests' real Chromium against the live server."""

from tests.console_browser import browser_page, chromium  # noqa: F401
