"""Rectification notices (整改通知, art. 31, 33), their steps, and the daily evaluations.

A notice is about one agency (`agency`) or, with no agency, about a city's node as a whole
(`city_code`). `city_code` is always the library that answers it: the agency's city, or the
hub's own code for a provincial agency (answered at the hub). The states and steps are
`shared.domain.notices`; every change is a `NoticeStep` row, bumps `revision` and goes down to
the city (`provincial_hub.compliance.federation`) in the same transaction.
"""

import uuid

from django.db import models
from django.db.models import Q

from shared.accounts.models import Agency, User
from shared.domain.notices import RULE_LABELS, STATE_LABELS, STEP_LABELS


class RectificationNotice(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    rule = models.CharField(
        "规则", max_length=32, choices=[(r.value, label) for r, label in RULE_LABELS.items()]
    )
    agency = models.ForeignKey(
        Agency,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="rectification_notices",
        verbose_name="整改单位",
    )
    city_code = models.CharField("负责答复的证照库", max_length=6, db_index=True)
    subject_key = models.CharField(
        "考核对象", max_length=18, help_text="单位的统一社会信用代码，或市级节点的代码"
    )
    period = models.CharField("考核期", max_length=16, blank=True)
    automatic = models.BooleanField("由每日考核生成", default=True)
    summary = models.CharField("问题摘要", max_length=500)
    findings = models.JSONField("考核发现", default=dict, blank=True)
    issued_at = models.DateTimeField("下发时间")
    issued_by = models.ForeignKey(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="下发人",
    )
    deadline = models.DateField("整改期限")
    deadline_provisional = models.BooleanField("期限暂定", default=False)
    state = models.CharField(
        "状态",
        max_length=10,
        choices=[(s.value, label) for s, label in STATE_LABELS.items()],
        default="issued",
    )
    answered_at = models.DateTimeField("最近答复时间", null=True, blank=True)
    closed_at = models.DateTimeField("验收时间", null=True, blank=True)
    escalated_at = models.DateTimeField("通报批评时间", null=True, blank=True)
    revision = models.PositiveIntegerField("修订号", default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "整改通知"
        verbose_name_plural = "整改通知"
        ordering = ["-issued_at"]
        constraints = [
            # One notice per breach: a daily run that finds the same breach again makes none.
            models.UniqueConstraint(
                fields=["rule", "subject_key", "period"],
                condition=Q(automatic=True),
                name="notice_one_per_breach",
            )
        ]
        indexes = [
            models.Index(fields=["state", "deadline"]),
            models.Index(fields=["rule", "subject_key", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.subject_key} {self.period} {self.state}"


class NoticeStep(models.Model):
    """One step of a notice: who (a person here, a person at a city, or the daily evaluation),
    when, what, and what they wrote."""

    notice = models.ForeignKey(RectificationNotice, on_delete=models.PROTECT, related_name="steps")
    seq = models.PositiveSmallIntegerField("序号")
    kind = models.CharField(
        "步骤", max_length=10, choices=[(k.value, label) for k, label in STEP_LABELS.items()]
    )
    actor = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField("办理人", max_length=200)
    library_code = models.CharField("办理所在证照库", max_length=6)
    text = models.TextField("内容", blank=True)
    at = models.DateTimeField("时间")

    class Meta:
        verbose_name = "整改通知步骤"
        verbose_name_plural = "整改通知步骤"
        ordering = ["notice", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "seq"], name="notice_step_seq_unique")
        ]

    def __str__(self) -> str:
        return f"{self.notice_id}#{self.seq} {self.kind}"


class EvaluationRun(models.Model):
    """One evaluation of the rules for a day (beat or `hub compliance evaluate`): what each
    rule found and how many notices it made, so an operator sees every run."""

    day = models.DateField("考核日")
    trigger = models.CharField(max_length=10, default="beat")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    breaches = models.PositiveIntegerField(default=0)
    notices_created = models.PositiveIntegerField(default=0)
    by_rule = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "合规考核记录"
        verbose_name_plural = "合规考核记录"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.day} {self.breaches}/{self.notices_created}"
