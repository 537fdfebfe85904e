"""Licences (GB/T 36903 core metadata), their immutable versions and their events."""

import uuid
from typing import Any

from django.conf import settings
from django.db import models

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.core.holder_codes import HolderCode
from shared.domain.status import ACTION_LABELS, STATUS_LABELS, Action, Status

STATUS_CHOICES = [(s.value, STATUS_LABELS[s]) for s in Status]
ACTION_CHOICES = [(a.value, ACTION_LABELS[a]) for a in Action]


class Mode(models.TextChoices):
    ONLINE = "online", "在线签发"
    OFFLINE = "offline", "线下签发补录"
    BULK = "bulk", "批量签发"
    LEGACY = "legacy", "存量证照电子化"


class License(models.Model):
    """One licence: the current state of a chain of versions.

    The identifier (GB/T 36904) names a version: `License.identifier` is the current version's,
    and every version's identifier is kept in `LicenseVersion`. `status` and `pledged` are changed
    only by the services in `shared.licenses.services`, each with a `LicenseEvent`.
    """

    identifier = models.CharField("证照标识", max_length=120, unique=True)
    license_type = models.ForeignKey(LicenseType, on_delete=models.PROTECT, related_name="licenses")
    issuer = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="licenses")
    serial = models.CharField("流水号", max_length=30)
    version = models.PositiveIntegerField("当前版本", default=1)
    number = models.CharField("证照编号", max_length=64)
    status = models.CharField("状态", max_length=12, choices=STATUS_CHOICES, db_index=True)
    pledged = models.BooleanField("已质押", default=False)
    pledgee = models.CharField("质权人", max_length=200, blank=True)
    pledge_until = models.DateField("质押期限", null=True, blank=True)
    holder_name = models.CharField("持证主体", max_length=200)
    # The code is stored as SM4 ciphertext plus a keyed digest for lookup (DESIGN §5);
    # `holder_code` reads and writes the plaintext.
    holder_code_enc = models.BinaryField("持证主体代码（密文）")
    holder_code_digest = models.CharField("持证主体代码摘要", max_length=72)
    holder_code = HolderCode()
    holder_code_type = models.CharField("持证主体代码类型", max_length=3)
    issue_date = models.DateField("颁证日期")
    valid_from = models.DateField("有效期起始")
    valid_to = models.DateField("有效期截止", null=True, blank=True)
    area_code = models.CharField("行政区划代码", max_length=6)
    matter_code = models.CharField("关联事项编码", max_length=64, blank=True)
    surface = models.JSONField("照面信息", default=dict)
    mode = models.CharField("生成方式", max_length=10, choices=Mode.choices)
    case_completed_at = models.DateTimeField("办结时间")
    sync_deadline = models.DateField("汇聚时限", null=True, blank=True)
    sync_deadline_provisional = models.BooleanField(default=False)
    content_digest = models.CharField("内容摘要（SM3）", max_length=64)
    library_code = models.CharField("所属证照库", max_length=6)
    last_event_seq = models.PositiveIntegerField(default=0)
    # Set only by the `inspect` action (shared.inspections approves a year): the latest year
    # whose annual inspection passed; null = never inspected.
    inspected_year = models.PositiveSmallIntegerField("最近年检年度", null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "电子证照"
        verbose_name_plural = "电子证照"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "license_type", "serial"], name="license_serial_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["holder_code_digest", "holder_code_type"], name="licenses_holder_digest_idx"
            )
        ]

    def __str__(self) -> str:
        return self.identifier


class LicenseVersion(models.Model):
    """An immutable version of a licence: what was issued, exactly as it was signed."""

    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField("版本")
    identifier = models.CharField("证照标识", max_length=120, unique=True)
    number = models.CharField("证照编号", max_length=64)
    holder_name = models.CharField(max_length=200)
    holder_code_enc = models.BinaryField()
    holder_code_digest = models.CharField(max_length=72)
    holder_code = HolderCode()
    holder_code_type = models.CharField(max_length=3)
    issue_date = models.DateField()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    matter_code = models.CharField(max_length=64, blank=True)
    surface = models.JSONField(default=dict)
    previous_identifier = models.CharField(max_length=120, blank=True)
    content_digest = models.CharField(max_length=64)
    # The licence's city library, copied here so that the hub can partition versions by city
    # (provincial_hub.aggregation.partitions); filled from the licence when left empty.
    library_code = models.CharField("所属证照库", max_length=6, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "证照版本"
        verbose_name_plural = "证照版本"
        ordering = ["license_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["license", "version"], name="license_version_unique"),
        ]

    def __str__(self) -> str:
        return self.identifier

    def save(self, *args: Any, **kwargs: Any) -> None:
        _fill_library(self)
        super().save(*args, **kwargs)


class LicenseEvent(models.Model):
    """One lifecycle change, numbered gap-free per licence."""

    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField("序号")
    action = models.CharField("操作", max_length=10, choices=ACTION_CHOICES)
    from_status = models.CharField(max_length=12, choices=STATUS_CHOICES, blank=True)
    to_status = models.CharField(max_length=12, choices=STATUS_CHOICES)
    version = models.PositiveIntegerField("版本")
    identifier = models.CharField(max_length=120)
    reason = models.CharField("原因", max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    actor_agency_code = models.CharField(max_length=18, blank=True)
    # As on versions: the licence's city, the hub's partition key.
    library_code = models.CharField("所属证照库", max_length=6, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "证照事件"
        verbose_name_plural = "证照事件"
        ordering = ["license_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["license", "seq"], name="license_event_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier}#{self.seq} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        _fill_library(self)
        super().save(*args, **kwargs)


def _fill_library(row: "LicenseVersion | LicenseEvent") -> None:
    """A version or event takes its licence's city unless its writer gave one (the licence is
    usually the one the writer just passed in, so no query)."""
    if not row.library_code and row.license_id is not None:
        row.library_code = row.license.library_code


class SerialCounter(models.Model):
    """The last serial handed out per issuer, type and year; incremented under a row lock."""

    issuer = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    license_type = models.ForeignKey(LicenseType, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "license_type", "year"], name="serial_counter_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.issuer_id}/{self.license_type_id}/{self.year}: {self.last}"


class Batch(models.Model):
    """A bulk upload (批量签发/线下补录/存量电子化), processed by a Celery job with progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "处理中"
        DONE = "done", "已完成"
        FAILED = "failed", "处理失败"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    issuer = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "批量任务"
        verbose_name_plural = "批量任务"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"批量任务 {self.id}"


class BatchItem(models.Model):
    """One row of a batch; its outcome is written in the same transaction as the licence."""

    class State(models.TextChoices):
        PENDING = "pending", "待处理"
        ISSUED = "issued", "已签发"
        FAILED = "failed", "失败"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="items")
    index = models.PositiveIntegerField()
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    license = models.ForeignKey(License, on_delete=models.PROTECT, null=True, related_name="+")
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["batch_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "index"], name="batch_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.index} {self.state}"
