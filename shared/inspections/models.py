"""Annual inspections (网络年检, art. 26) and the materials submitted with them."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.licenses.models import License


class Inspection(models.Model):
    """One licence's annual inspection of one year, from submission to the issuer's decision.

    It lives where the licence was issued (`library_code`) and is mirrored at the hub under the
    same id: every change bumps `revision`, and the hub keeps the highest it received. At the
    hub `submitted_by` and `decided_by` are null (the city's users are not the hub's).
    Approval records the year on the licence through its lifecycle (`Action.inspect`).
    """

    class State(models.TextChoices):
        SUBMITTED = "submitted", "待审核"
        APPROVED = "approved", "已通过"
        REFUSED = "refused", "未通过"

    class SubmitterKind(models.TextChoices):
        HOLDER = "holder", "持证人"
        ISSUER = "issuer", "签发单位代为提交"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    library_code = models.CharField("所属证照库", max_length=6)
    license = models.ForeignKey(
        License, on_delete=models.PROTECT, related_name="inspections", verbose_name="证照"
    )
    issuer = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="inspections", verbose_name="签发单位"
    )
    license_type = models.ForeignKey(
        LicenseType, on_delete=models.PROTECT, related_name="inspections", verbose_name="证照类型"
    )
    identifier = models.CharField("提交时的证照标识", max_length=120)
    year = models.PositiveSmallIntegerField("年检年度")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.SUBMITTED)
    note = models.CharField("说明", max_length=500, blank=True)
    submitter_kind = models.CharField("提交人类别", max_length=10, choices=SubmitterKind.choices)
    submitted_at = models.DateTimeField("提交时间")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="提交人",
    )
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="审核人",
    )
    decision_reason = models.CharField("审核意见", max_length=500, blank=True)
    late = models.BooleanField("逾期通过", default=False)
    revision = models.PositiveIntegerField("修订号", default=1)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "网络年检"
        verbose_name_plural = "网络年检"
        ordering = ["-submitted_at", "-id"]
        constraints = [
            # One inspection per licence and year that is not refused: a refused one may be
            # submitted again.
            models.UniqueConstraint(
                fields=["license", "year"],
                condition=~Q(state="refused"),
                name="inspection_one_per_year",
            ),
        ]
        indexes = [
            models.Index(fields=["issuer", "state"], name="inspection_issuer_state_idx"),
            # the statistics rollup reads changed rows in this order past its watermark
            models.Index(fields=["updated_at", "id"], name="inspection_changed_idx"),
            models.Index(fields=["state", "submitted_at"], name="inspection_backlog_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} {self.year} 年度年检（{self.get_state_display()}）"


class InspectionMaterial(models.Model):
    """One attachment of a submission, checked by its content (shared.core.attachments).

    `content` is held only where the inspection was submitted: the hub's mirror has the
    metadata (name, type, size, SM3 digest) and null content."""

    inspection = models.ForeignKey(
        Inspection, on_delete=models.CASCADE, related_name="materials", verbose_name="年检"
    )
    index = models.PositiveSmallIntegerField("序号")
    name = models.CharField("文件名", max_length=100)
    content_type = models.CharField("文件类型", max_length=50)
    size = models.PositiveIntegerField("大小（字节）")
    digest = models.CharField("内容摘要（SM3）", max_length=64)
    content = models.BinaryField("内容", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "年检材料"
        verbose_name_plural = "年检材料"
        ordering = ["inspection_id", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["inspection", "index"], name="inspection_material_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.inspection_id}#{self.index} {self.name}"
