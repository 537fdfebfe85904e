"""The notification outbox (one row per user × channel) and the contact details it needs."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    EMAIL = "email", "电子邮件"
    SMS = "sms", "短信"
    FILE = "file", "文件"


class Contact(models.Model):
    """How a user is reached besides the account's e-mail address: a mobile number for SMS."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notify_contact"
    )
    phone = models.CharField("手机号码", max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "通知联系方式"
        verbose_name_plural = "通知联系方式"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.phone}"


class Notification(models.Model):
    """One message to one user over one channel, written in the producer's transaction.

    Unique (dedupe_key, user, channel): a producer that runs twice (a rerun, a redelivered
    task) finds its row and queues nothing. States: `pending` (due at `next_attempt_at`),
    `sending` (claimed by a sender in a committed transaction before anything leaves),
    `sent`, `failed` (the last attempt failed; retried at `next_attempt_at`), `dead` (no more
    automatic attempts: out of attempts, refused for good, or a send interrupted with an unknown
    outcome — at most once, so never resent without an operator).
    """

    class State(models.TextChoices):
        PENDING = "pending", "待发送"
        SENDING = "sending", "发送中"
        SENT = "sent", "已发送"
        FAILED = "failed", "失败待重试"
        DEAD = "dead", "已放弃"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.CharField("事件", max_length=40, db_index=True)
    dedupe_key = models.CharField("去重键", max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name="收件人",
    )
    channel = models.CharField("渠道", max_length=10, choices=Channel.choices)
    address = models.CharField("地址", max_length=254, blank=True)
    subject = models.CharField("主题", max_length=200)
    body = models.TextField("正文")
    link = models.CharField("链接", max_length=500, blank=True)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    last_error = models.CharField("最近错误", max_length=500, blank=True)
    next_attempt_at = models.DateTimeField("下次尝试时间", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)

    class Meta:
        verbose_name = "通知"
        verbose_name_plural = "通知"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key", "user", "channel"], name="notification_dedupe"
            ),
        ]
        indexes = [
            # the sweep's work queue: due rows only
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["pending", "failed", "sending"]),
                name="notification_due_idx",
            ),
            models.Index(fields=["state", "event"], name="notification_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.user_id} ({self.channel})"


class Reminder(models.Model):
    """A reminder a daily producer has queued for a licence: `kind` (`expiry`, `inspection`) and
    `key` (for expiry `<valid_to>:<days>`, for inspection `<year>:<stage>`). Written in the
    same transaction as its notifications, so a rerun or a restarted worker finds it and
    queues nothing, and the daily query skips licences already reminded."""

    license = models.ForeignKey(
        "licenses.License", on_delete=models.CASCADE, related_name="+", verbose_name="证照"
    )
    kind = models.CharField("类别", max_length=12)
    key = models.CharField("键", max_length=40)
    created_at = models.DateTimeField("创建时间", auto_now_add=True)

    class Meta:
        verbose_name = "到期提醒记录"
        verbose_name_plural = "到期提醒记录"
        constraints = [
            models.UniqueConstraint(fields=["license", "kind", "key"], name="reminder_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.license_id} {self.kind} {self.key}"
