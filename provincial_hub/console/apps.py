from django.apps import AppConfig


class HubConsoleConfig(AppConfig):
    """The provincial operators' screens (issue #15): the 18 cities' aggregation at a glance,
    drill-down to a city's deliveries, reconciliation runs and files. Hub only."""

    name = "provincial_hub.console"
    label = "hub_console"
    verbose_name = "全省汇聚控制台"

    def ready(self) -> None:
        from shared.console import roles
        from shared.console.nav import NavItem, NavSection, nav_register

        nav_register(
            NavSection(
                title="全省汇聚",
                allow=roles.library_admin,
                items=(
                    NavItem(label="汇聚总览", url_name="hub-console-dashboard"),
                    NavItem(label="行业电子证照库", url_name="hub-console-sectors"),
                ),
            )
        )
        # supervision (i15-supervision): the province's compliance screens, for the
        # supervisor and the hub's operator; the aggregation dashboard read-only for the former
        from provincial_hub.console.compliance import reads_notices

        nav_register(
            NavSection(
                title="合规监管",
                allow=reads_notices,
                items=(
                    NavItem(label="整改通知", url_name="hub-compliance-notices"),
                    NavItem(label="每日考核", url_name="hub-compliance-runs"),
                    NavItem(label="通报批评（公开）", url_name="criticism-page"),
                    NavItem(
                        label="汇聚总览（只读）",
                        url_name="hub-console-dashboard",
                        allow=roles.supervisor,
                    ),
                    NavItem(
                        label="行业电子证照库（只读）",
                        url_name="hub-console-sectors",
                        allow=roles.supervisor,
                    ),
                ),
            )
        )
