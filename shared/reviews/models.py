"""Review requests (复核申请, art. 24), their attachments and the reminders the beat sent.

A request lives where the disputed licence's issuer works (the licence's library); a city's
requests travel up to the hub as `review.update` outbox events, where a mirror row with the same
UUID keeps the highest `revision` (docs/reviews.md).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType
from shared.licenses.models import License


class ReviewRequest(models.Model):
    """One dispute of one licence's data, answered by its issuer within 5 working days.

    `deadline` is the fifth working day after the day received (make-up working days count,
    the operator's overrides apply); `answered_late` when answered after that day ended (local
    time); `overdue` is set once by the beat while still open past the deadline and stays set.
    `revision` is bumped by every change, so the hub's mirror keeps only the newest state. The
    mirror's `requester` is null (users do not travel); `requester_agency_code` does.
    """

    class State(models.TextChoices):
        OPEN = "open", "待答复"
        CONFIRMED = "confirmed", "已确认无误"
        CORRECTED = "corrected", "已更正"
        REJECTED = "rejected", "不予更正"

    class RequesterKind(models.TextChoices):
        HOLDER = "holder", "持证人"
        AGENCY = "agency", "证照应用单位"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    library_code = models.CharField("所属证照库", max_length=6)
    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="reviews")
    identifier = models.CharField("被申请复核的证照标识", max_length=120)
    issuer = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="reviews_received", verbose_name="签发单位"
    )
    license_type = models.ForeignKey(
        LicenseType, on_delete=models.PROTECT, related_name="+", verbose_name="证照类型"
    )
    requester_kind = models.CharField("申请人类别", max_length=10, choices=RequesterKind.choices)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="申请人",
    )
    requester_agency_code = models.CharField("申请单位代码", max_length=18, blank=True)
    matter_code = models.CharField("事项编码", max_length=64, blank=True)
    use_cause = models.CharField("用证事由", max_length=200, blank=True)
    fields = models.JSONField("有异议的字段", default=list, blank=True)
    reason = models.TextField("申请理由", max_length=1000)
    received_at = models.DateTimeField("收到时间")
    deadline = models.DateField("答复期限")
    deadline_provisional = models.BooleanField("期限为暂定", default=False)
    state = models.CharField(
        "状态", max_length=10, choices=State.choices, default=State.OPEN, db_index=True
    )
    answered_at = models.DateTimeField("答复时间", null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="答复人",
    )
    answer_reason = models.TextField("答复说明", max_length=500, blank=True)
    corrected_identifier = models.CharField("更正后的证照标识", max_length=120, blank=True)
    answered_late = models.BooleanField("逾期答复", default=False)
    overdue = models.BooleanField("已逾期", default=False, db_index=True)
    reminders_sent = models.PositiveSmallIntegerField("已提醒次数", default=0)
    revision = models.PositiveIntegerField("修订号", default=1)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "复核申请"
        verbose_name_plural = "复核申请"
        ordering = ["-received_at", "id"]
        indexes = [
            models.Index(fields=["issuer", "state"], name="reviews_issuer_state_idx"),
            models.Index(fields=["state", "deadline"], name="reviews_state_deadline_idx"),
            # the statistics rollup reads changed rows in this order past its watermark
            models.Index(fields=["updated_at", "id"], name="reviews_changed_idx"),
        ]
        constraints = [
            # One open request per requester and licence. The hub's mirror rows have no
            # requester, so the rule binds where requests are made, never the mirror.
            models.UniqueConstraint(
                fields=["license", "requester"],
                condition=Q(state="open", requester_kind="holder", requester__isnull=False),
                name="reviews_one_open_per_holder",
            ),
            models.UniqueConstraint(
                fields=["license", "requester_agency_code"],
                condition=Q(state="open", requester_kind="agency", requester__isnull=False),
                name="reviews_one_open_per_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"复核申请 {self.id}（{self.get_state_display()}）"


class ReviewAttachment(models.Model):
    """A file sent with a request (PDF, JPEG or PNG, checked by content). Only its metadata
    travels to the hub: the mirror's `content` is null."""

    review = models.ForeignKey(ReviewRequest, on_delete=models.PROTECT, related_name="attachments")
    name = models.CharField("文件名", max_length=200)
    content_type = models.CharField("文件类型", max_length=40)
    size = models.PositiveIntegerField("大小（字节）")
    sm3 = models.CharField("SM3 摘要", max_length=64)
    sha256 = models.CharField("SHA-256 摘要", max_length=64)
    content = models.BinaryField("内容", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "复核申请附件"
        verbose_name_plural = "复核申请附件"
        ordering = ["review_id", "id"]

    def __str__(self) -> str:
        return self.name


class ReviewReminder(models.Model):
    """One reminder the beat gave the issuer: when 2 (`ordinal` 1) and 1 (`ordinal` 2) working
    days were left. The issuer's inbox shows them; messages by SMS or e-mail are not sent here."""

    review = models.ForeignKey(ReviewRequest, on_delete=models.PROTECT, related_name="reminders")
    ordinal = models.PositiveSmallIntegerField("第几次提醒")
    days_left = models.PositiveSmallIntegerField("剩余工作日")
    created_at = models.DateTimeField("提醒时间")

    class Meta:
        verbose_name = "复核答复提醒"
        verbose_name_plural = "复核答复提醒"
        ordering = ["review_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["review", "ordinal"], name="reviews_reminder_once"),
        ]

    def __str__(self) -> str:
        return f"{self.review_id} 提醒 {self.ordinal}：剩余 {self.days_left} 个工作日"
