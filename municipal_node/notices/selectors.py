"""Reads: an agency's staff see their agency's notices, the node's administrator all of the
city's; nobody else any."""

from typing import Any

from django.db.models import QuerySet

from municipal_node.notices.models import Notice
from shared.accounts.models import User
from shared.core.errors import ForbiddenError, NotFoundError


def notice_list(*, user: User) -> QuerySet[Notice]:
    notices = Notice.objects.select_related("agency")
    if user.is_library_admin:
        return notices
    if user.agency_id is None or user.is_supervisor:
        raise ForbiddenError("compliance.forbidden", "无权查看整改通知")
    return notices.filter(agency_id=user.agency_id)


def notice_get(*, user: User, notice_id: Any) -> Notice:
    notice = notice_list(user=user).filter(pk=notice_id).first()
    if notice is None:
        raise NotFoundError("compliance.notice_not_found", "整改通知不存在")
    return notice
