from django.apps import AppConfig


class NoticesConfig(AppConfig):
    """A city's side of the hub's rectification notices (art. 31, 33): the copy its agencies
    read and answer, applied from the hub's `compliance.notice` events."""

    name = "municipal_node.notices"
    label = "notices"
    verbose_name = "整改通知"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from municipal_node.notices import services
        from shared.domain.notices import NOTICE_KIND
        from shared.federation.apply import HANDLERS

        HANDLERS[NOTICE_KIND] = services.notice_apply
        self._console_nav()

    @staticmethod
    def _console_nav() -> None:
        """The node's notices screen in the console's navigation (shared code never names it)."""
        from municipal_node.notices.console.views import may_read
        from shared.console.nav import NavItem, NavSection, nav_register

        nav_register(
            NavSection(
                title="整改通知",
                allow=may_read,
                items=(NavItem(label="整改通知", url_name="node-console-notices"),),
            )
        )
