"""The console's navigation: sections of links, each shown to the roles it serves.

A tier app adds its own section from its AppConfig.ready (`nav_register`): the hub's
aggregation dashboard is the hub's, and shared code never names it. Governance screens
(reviews, inspections, notices, statistics, audit) have their places already, marked 建设中
until their screens land.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from shared.accounts.models import User
from shared.console import roles


@dataclass(frozen=True, slots=True, kw_only=True)
class NavItem:
    label: str
    url_name: str = ""  # empty: a slot for a screen still to come
    allow: roles.Allow | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NavSection:
    title: str
    items: tuple[NavItem, ...]
    allow: roles.Allow


SECTIONS: list[NavSection] = [
    NavSection(
        title="库管理",
        allow=roles.manages_staff,
        items=(
            NavItem(label="单位", url_name="console-agencies", allow=roles.library_admin),
            NavItem(label="人员", url_name="console-users"),
            NavItem(label="API 令牌", url_name="console-tokens"),
            NavItem(label="用证授权", url_name="console-grants", allow=roles.library_admin),
            NavItem(label="交换队列", url_name="console-outbox", allow=roles.library_admin),
            NavItem(label="工作日调整", url_name="console-workdays", allow=roles.library_admin),
            NavItem(label="管理审计", allow=roles.library_admin),
        ),
    ),
    NavSection(
        title="签发单位",
        allow=roles.issuer,
        items=(
            NavItem(label="证照目录", url_name="console-catalogue"),
            NavItem(label="证照查询", url_name="console-licences"),
            # governance of the issuing agency (#15 item 4)
            NavItem(label="复核申请", url_name="console-reviews"),
            NavItem(label="网络年检", url_name="console-inspections"),
            NavItem(label="用证记录", url_name="console-usage"),
            NavItem(label="批量分析审批", url_name="console-bulk"),
        ),
    ),
    NavSection(
        title="应用单位",
        allow=roles.consumer,
        items=(
            NavItem(label="用证查询", url_name="console-query"),
            NavItem(label="文件验证", url_name="console-verify-file"),
            NavItem(label="二维码验证", url_name="console-verify-qr"),
        ),
    ),
    NavSection(
        title="监督管理",
        allow=roles.supervisor,
        items=(NavItem(label="整改通知"), NavItem(label="统计分析"), NavItem(label="审计日志")),
    ),
]


def nav_register(section: NavSection) -> None:
    """Add a tier's section first (it is what that tier's operators come for); idempotent."""
    if all(s.title != section.title for s in SECTIONS):
        SECTIONS.insert(0, section)


def nav_for(user: User, path: str) -> list[dict[str, object]]:
    """The sections and links `user` may see, the current one marked."""
    shown: list[dict[str, object]] = []
    for section in SECTIONS:
        if not section.allow(user):
            continue
        links: list[dict[str, object]] = []
        for item in section.items:
            if item.allow is not None and not item.allow(user):
                continue
            url = ""
            if item.url_name:
                try:
                    url = reverse(item.url_name)
                except NoReverseMatch:  # the tier does not serve it
                    continue
            links.append(
                {"label": item.label, "url": url, "current": bool(url) and path.startswith(url)}
            )
        if links:
            shown.append({"title": section.title, "links": links})
    return shown
