"""The console's navigation: sections of links, each shown to the roles it serves.

A tier app adds its own section from its AppConfig.ready (`nav_register`): the hub's
aggregation dashboard is the hub's, and shared code never names it. Governance screens
(reviews, inspections, notices, statistics, audit) have their places already, marked 建设中
until their screens land.
"""

from dataclasses import dataclass
from typing import Any

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
            NavItem(label="持证人账户", url_name="console-holders", allow=roles.library_admin),
            NavItem(label="API 令牌", url_name="console-tokens"),
            NavItem(label="用证授权", url_name="console-grants", allow=roles.library_admin),
            NavItem(label="印章证书", url_name="console-seals"),
            NavItem(label="交换队列", url_name="console-outbox", allow=roles.library_admin),
            NavItem(label="Webhook 投递", url_name="console-webhooks", allow=roles.library_admin),
            NavItem(label="通知发送", url_name="console-notifications", allow=roles.library_admin),
            NavItem(label="工作日调整", url_name="console-workdays", allow=roles.library_admin),
            NavItem(label="管理审计", url_name="console-audit", allow=roles.library_admin),
            NavItem(label="用证记录链", url_name="console-access-log", allow=roles.library_admin),
            NavItem(label="统计分析", url_name="console-statistics"),
        ),
    ),
    NavSection(
        title="签发单位",
        allow=roles.issuer,
        items=(
            NavItem(label="证照目录", url_name="console-catalogue"),
            NavItem(label="证照查询", url_name="console-licences"),
            # workspace part two (bulk upload)
            NavItem(label="批量签发", url_name="console-bulk"),
            # governance of the issuing agency (#15 item 4)
            NavItem(label="复核申请", url_name="console-reviews"),
            NavItem(label="网络年检", url_name="console-inspections"),
            NavItem(label="用证记录", url_name="console-usage"),
            NavItem(label="批量分析审批", url_name="console-bulk-approvals"),
        ),
    ),
    NavSection(
        title="应用单位",
        allow=roles.consumer,
        items=(
            NavItem(label="用证查询", url_name="console-query"),
            NavItem(label="文件验证", url_name="console-verify-file"),
            NavItem(label="二维码验证", url_name="console-verify-qr"),
            # workspace part two (copies, bulk analysis)
            NavItem(label="加注件", url_name="console-copies"),
            NavItem(label="批量分析", url_name="console-bulk-requests"),
        ),
    ),
    NavSection(
        title="监督管理",
        allow=roles.supervisor,
        # supervision (i15-supervision); the hub adds its compliance section itself
        items=(
            NavItem(label="统计分析", url_name="console-statistics"),
            NavItem(label="管理审计", url_name="console-audit"),
        ),
    ),
]


def nav_register(section: NavSection) -> None:
    """Add a tier's section first (it is what that tier's operators come for); idempotent."""
    if all(s.title != section.title for s in SECTIONS):
        SECTIONS.insert(0, section)


def nav_for(user: User, path: str) -> list[dict[str, Any]]:
    """The sections and links `user` may see, the current one marked."""
    shown: list[dict[str, Any]] = []
    for section in SECTIONS:
        if not section.allow(user):
            continue
        links: list[dict[str, Any]] = []
        for item in section.items:
            if item.allow is not None and not item.allow(user):
                continue
            url = ""
            if item.url_name:
                try:
                    url = reverse(item.url_name)
                except NoReverseMatch:  # the tier does not serve it
                    continue
            links.append({"label": item.label, "url": url, "current": False})
        if links:
            shown.append({"title": section.title, "links": links})
    _mark_current(shown, path)
    return shown


def _mark_current(shown: list[dict[str, Any]], path: str) -> None:
    """Only the longest link the path starts with is current: /console/hub/compliance/ is 整改通知,
    not also 汇聚总览 (/console/hub/)."""
    links = [link for section in shown for link in section["links"]]
    matching = [link for link in links if link["url"] and path.startswith(link["url"])]
    if matching:
        max(matching, key=lambda link: len(link["url"]))["current"] = True
