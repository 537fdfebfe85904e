"""Webhooks for consumer systems (issue #14 item 4; docs/webhooks.md).

A consumer agency subscribes to the status changes of one licence it has lawfully used (grant +
matter + an earlier use in the access log). Each licence event then becomes one
`WebhookEvent` per subscription, written in the licence change's own transaction, with a
stable `event_id` the receiver deduplicates on. Every POST is a `DeliveryAttempt` row; after
`WEBHOOK_MAX_ATTEMPTS` failures the event is dead and shown to the operator.
"""

import uuid

from django.conf import settings
from django.db import models

from shared.accounts.models import Agency
from shared.licenses.models import License, LicenseEvent


class Signing(models.TextChoices):
    HMAC_SHA256 = "hmac-sha256", "HMAC-SHA256（共享密钥）"
    HMAC_SM3 = "hmac-sm3", "HMAC-SM3（共享密钥）"
    SM2_SM3 = "sm2-sm3", "SM2 签名（本库密钥）"


class Subscription(models.Model):
    """One agency's subscription to one licence's status changes under one matter.

    `secret` is generated here and shown once (in the 201 answer); it keys the HMAC of every
    delivery (empty for `sm2-sm3`: the library's SM2 key signs). Deleting sets `deleted_at` (the rows of past deliveries keep their subscription);
    at most one live subscription per agency, licence, matter and target.
    """

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    # SET_NULL: the hub removes a forged city licence it quarantines; the subscription then
    # hears nothing more and keeps the identifier it named.
    license = models.ForeignKey(License, on_delete=models.SET_NULL, null=True, related_name="+")
    identifier = models.CharField("证照标识（订阅时）", max_length=120)
    matter_code = models.CharField("事项编码", max_length=64)
    target_url = models.CharField("接收地址", max_length=500)
    signing = models.CharField("签名方式", max_length=16, choices=Signing.choices)
    secret = models.CharField("共享密钥", max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "状态变更订阅"
        verbose_name_plural = "状态变更订阅"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "license", "matter_code", "target_url"],
                condition=models.Q(deleted_at=None),
                name="webhook_subscription_live_once",
            )
        ]
        indexes = [models.Index(fields=["license"], name="webhook_sub_license_idx")]

    def __str__(self) -> str:
        return f"订阅 {self.pk} {self.agency_id} → {self.target_url}"


class WebhookEvent(models.Model):
    """One licence event to deliver to one subscription: created once (unique per
    subscription and licence event), delivered until it is `delivered` or `dead`."""

    class State(models.TextChoices):
        PENDING = "pending", "待投递"
        DELIVERED = "delivered", "已投递"
        DEAD = "dead", "投递失败（已停止）"
        CANCELLED = "cancelled", "已取消（订阅已删除或授权失效）"

    event_id = models.UUIDField("事件 ID", default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="events")
    # SET_NULL: quarantine may move a licence event out of the hub's history; what was sent
    # (or is to be sent) stays in `payload`.
    license_event = models.ForeignKey(
        LicenseEvent, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    type = models.CharField("事件类型", max_length=32)
    payload = models.JSONField("投递内容")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField("已尝试次数", default=0)
    next_attempt_at = models.DateTimeField("下次尝试", null=True, blank=True)
    last_error = models.CharField("最近错误", max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Webhook 事件"
        verbose_name_plural = "Webhook 事件"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "license_event"], name="webhook_event_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="webhook_event_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type} {self.state}"


class DeliveryAttempt(models.Model):
    """One POST of one event: what came back (status code or error) and how long it took."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.PROTECT, related_name="deliveries")
    number = models.PositiveIntegerField("第几次")
    started_at = models.DateTimeField()
    status_code = models.PositiveIntegerField("HTTP 状态码", null=True, blank=True)
    error = models.CharField("错误", max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField("耗时（毫秒）")
    succeeded = models.BooleanField(default=False)

    class Meta:
        verbose_name = "Webhook 投递记录"
        verbose_name_plural = "Webhook 投递记录"
        ordering = ["event_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["event", "number"], name="webhook_attempt_once")
        ]

    def __str__(self) -> str:
        return f"{self.event_id}#{self.number} {self.status_code or self.error}"
