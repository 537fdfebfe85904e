from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The staff console (issue #15): server-rendered screens over the services the API uses.
    No models: every screen reads through selectors and writes through services."""

    name = "shared.console"
    label = "console"
    verbose_name = "管理控制台"
