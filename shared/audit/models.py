"""The administrative audit trail (art. 28): who changed what, when, from what to what."""

from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from shared.core.errors import ConflictError


class AuditEntry(models.Model):
    """One administrative change, written by the service that made it, in its transaction.

    Append-only: the model refuses to update or delete a row, and PostgreSQL refuses it too
    (migration 0002). `actor` is null for a system action (a command, seeding); `username` and
    `agency_code` are copied so the row still says who acted if the account changes later, and
    the account cannot be deleted while it has rows (PROTECT: deactivate it instead).
    `action` is a stable dotted code ("agency.create", "token.revoke", "catalog.type.publish");
    `before`/`after` are field snapshots without secrets (`shared.audit.snapshots`).
    """

    occurred_at = models.DateTimeField("时间", default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="操作人",
    )
    username = models.CharField("操作人用户名", max_length=150, blank=True)
    agency_code = models.CharField("操作人单位代码", max_length=18, blank=True)
    action = models.CharField("操作", max_length=64, db_index=True)
    target_type = models.CharField("对象类型", max_length=64)
    target_id = models.CharField("对象标识", max_length=128)
    before = models.JSONField("修改前", null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField("修改后", null=True, blank=True, encoder=DjangoJSONEncoder)
    detail = models.JSONField("说明", default=dict, blank=True, encoder=DjangoJSONEncoder)
    library_code = models.CharField("库代码", max_length=6)
    request_id = models.CharField("请求编号", max_length=64, blank=True)

    class Meta:
        verbose_name = "管理审计记录"
        verbose_name_plural = "管理审计"
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["username", "occurred_at"], name="audit_username_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ConflictError("audit.append_only", "管理审计记录只能新增，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ConflictError("audit.append_only", "管理审计记录只能新增，不能删除")
