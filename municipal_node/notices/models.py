"""The city's copy of the rectification notices the hub issued to its agencies or its node
(issue #12 item 3), and the answers its staff sent.

The hub owns a notice: `Notice` holds the hub's last state of it (`revision`, the highest
received wins) with the hub's steps. An answer given here is a `NoticeAnswer` row (who, when,
what) and an outbox row up to the hub; until the hub's next state arrives, the copy shows the
answer as sent (`steps[…]["pending"]`).
"""

from typing import ClassVar

from django.db import models

from shared.accounts.models import Agency, User
from shared.domain.notices import STATE_LABELS


class Notice(models.Model):
    id = models.UUIDField(primary_key=True, editable=False, help_text="省级库的通知编号")
    rule = models.CharField("规则", max_length=32)
    rule_label = models.CharField("规则名称", max_length=100)
    agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notices",
        verbose_name="整改单位",
    )
    city_code = models.CharField("负责答复的证照库", max_length=6)
    period = models.CharField("考核期", max_length=16, blank=True)
    summary = models.CharField("问题摘要", max_length=500)
    findings = models.JSONField("考核发现", default=dict, blank=True)
    issued_at = models.DateTimeField("下发时间")
    deadline = models.DateField("整改期限")
    deadline_provisional = models.BooleanField("期限暂定", default=False)
    state = models.CharField(
        "状态", max_length=10, choices=[(s.value, label) for s, label in STATE_LABELS.items()]
    )
    answered_at = models.DateTimeField("最近答复时间", null=True, blank=True)
    closed_at = models.DateTimeField("验收时间", null=True, blank=True)
    escalated_at = models.DateTimeField("通报批评时间", null=True, blank=True)
    revision = models.PositiveIntegerField("省级库修订号")
    steps = models.JSONField("办理步骤", default=list, blank=True)
    received_at = models.DateTimeField("最近接收时间", auto_now=True)

    # Spelled out: the type checker runs with the hub's settings, where this app is not installed.
    objects: ClassVar[models.Manager["Notice"]] = models.Manager()

    class Meta:
        verbose_name = "整改通知"
        verbose_name_plural = "整改通知"
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["agency", "state"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.pk} {self.state}"


class NoticeAnswer(models.Model):
    """An answer given here by a person of this city, as sent up to the hub."""

    notice = models.ForeignKey(Notice, on_delete=models.PROTECT, related_name="answers")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    text = models.TextField("整改情况")
    based_on_revision = models.PositiveIntegerField("答复时的修订号")
    at = models.DateTimeField("答复时间")

    objects: ClassVar[models.Manager["NoticeAnswer"]] = models.Manager()

    class Meta:
        verbose_name = "整改答复"
        verbose_name_plural = "整改答复"
        ordering = ["notice", "at"]

    def __str__(self) -> str:
        return f"{self.text[:20]} {self.at:%Y-%m-%d %H:%M}"
