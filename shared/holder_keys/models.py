"""Holder-code key versions: the background re-encryption runs and the retired versions.

The keys themselves live in the settings (`HOLDER_CODE_KEYS`, docs/pki.md); the database only
records what was done with them, so an operator sees a rotation's progress and a retired
version is refused by every process of the deployment without a restart.
"""

from django.db import models


class HolderKeyRotation(models.Model):
    """One run re-encrypting every stored holder code (licences, their versions, accounts) to
    `to_version`, in batches by a Celery task; resumable (the cursors are here) and alone (one
    running run at a time). Passes repeat until no row is left under another version: rows a
    process with the old configuration wrote meanwhile are caught by the next pass."""

    class State(models.TextChoices):
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    to_version = models.PositiveSmallIntegerField("目标密钥版本")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField("待重新加密（开始时）", default=0)
    rewritten = models.PositiveIntegerField("已重新加密", default=0)
    failed = models.PositiveIntegerField("无法读取（上一遍）", default=0)
    passes = models.PositiveIntegerField("遍数", default=1)
    # Per model label, the last primary key done in this pass (None: this pass is past it).
    cursors = models.JSONField(default=dict, blank=True)
    pass_rewritten = models.PositiveIntegerField(default=0)
    pass_failed = models.PositiveIntegerField(default=0)
    last_error = models.CharField("最近错误", max_length=500, blank=True)
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "持证主体代码密钥轮换"
        verbose_name_plural = "持证主体代码密钥轮换"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["state"],
                condition=models.Q(state="running"),
                name="holder_key_rotation_one_running",
            )
        ]

    def __str__(self) -> str:
        return f"轮换至版本 {self.to_version}（{self.get_state_display()}）"


class HolderKeyRetirement(models.Model):
    """A key version retired: values still under it are refused, even while it is configured."""

    version = models.PositiveSmallIntegerField("密钥版本", unique=True)
    reason = models.CharField("原因", max_length=200, blank=True)
    retired_at = models.DateTimeField("停用时间", auto_now_add=True)

    class Meta:
        verbose_name = "已停用的持证主体代码密钥版本"
        verbose_name_plural = "已停用的持证主体代码密钥版本"
        ordering = ["version"]

    def __str__(self) -> str:
        return f"版本 {self.version}"
