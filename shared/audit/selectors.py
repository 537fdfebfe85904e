"""Reads of the audit trail, and who may read it."""

from typing import Any

from django.db.models import QuerySet

from shared.audit.models import AuditEntry
from shared.core.errors import ForbiddenError


def audit_readable_by(user: Any) -> bool:
    """Library administrators and the supervisor (art. 28, 31); nobody else."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(getattr(user, "is_library_admin", False) or getattr(user, "is_supervisor", False))


def require_audit_reader(user: Any) -> None:
    if not audit_readable_by(user):
        raise ForbiddenError(
            "permission.audit_reader_required", "仅库管理员和监管人员可以查看管理审计记录"
        )


def audit_list(*, user: Any) -> QuerySet[AuditEntry]:
    """Every row of this library, newest first (403 for anyone but a reader)."""
    require_audit_reader(user)
    return AuditEntry.objects.order_by("-occurred_at", "-id")
