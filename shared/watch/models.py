"""A holder's watch on their own identity, and the alerts it brought (issue #14 item 5).

Both tiers hold `Watch` rows. At a city node a row is a subscription its holder made in the
portal (`home_library` = this library); at the hub a row is either one the hub's own portal
made or one a city registered with `watch.subscribe` (same id, `home_library` = that city),
and every active row there is matched against the licences, events and access records of the
whole province (`provincial_hub.watch`). The holder code is kept as everywhere: SM4 ciphertext
plus a keyed digest under this library's own `HOLDER_CODE_KEY`.

A `WatchAlert` is one match delivered home: unique per (origin library, origin id) — the hub's
`WatchHit` id — so a redelivered alert is stored once.
"""

import uuid

from django.db import models

from shared.core.holder_codes import HolderCode


class Watch(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", "监视中"
        CANCELLED = "cancelled", "已取消"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    home_library = models.CharField("所属证照库", max_length=6)
    holder_name = models.CharField("持证主体", max_length=200, blank=True)
    holder_code_enc = models.BinaryField("持证主体代码（密文）")
    holder_code_digest = models.CharField("持证主体代码摘要", max_length=72)
    holder_code = HolderCode()
    holder_code_type = models.CharField("持证主体代码类型", max_length=3)
    # From when licences, events and accesses are matched (the holder's subscription time).
    since = models.DateTimeField("监视起始时间")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "持证人监视"
        verbose_name_plural = "持证人监视"
        ordering = ["-created_at"]
        constraints = [
            # One active watch per identity and home: a second subscription is the first.
            models.UniqueConstraint(
                fields=["home_library", "holder_code_digest", "holder_code_type"],
                condition=models.Q(state="active"),
                name="watch_one_active_per_holder",
            )
        ]
        indexes = [models.Index(fields=["holder_code_digest", "holder_code_type", "state"])]

    def __str__(self) -> str:
        return f"{self.home_library} {self.holder_code_type} {self.state}"


class WatchAlert(models.Model):
    class Kind(models.TextChoices):
        ISSUED = "issued", "签发"
        CHANGED = "changed", "变更"
        QUERIED = "queried", "使用"

    watch = models.ForeignKey(Watch, on_delete=models.PROTECT, related_name="alerts")
    origin_library = models.CharField("来源库", max_length=6)
    origin_id = models.BigIntegerField("来源库记录 ID")
    kind = models.CharField("事件", max_length=10, choices=Kind.choices)
    action = models.CharField("操作", max_length=32, blank=True)
    action_label = models.CharField("操作名称", max_length=64, blank=True)
    identifier = models.CharField("证照标识", max_length=120, blank=True)
    type_code = models.CharField("证照类型代码", max_length=21, blank=True)
    type_name = models.CharField("证照名称", max_length=200, blank=True)
    library_code = models.CharField("发证库", max_length=6, blank=True)
    library_name = models.CharField("发证库名称", max_length=100, blank=True)
    issuer_code = models.CharField("发证单位代码", max_length=18, blank=True)
    issuer_name = models.CharField("发证单位", max_length=200, blank=True)
    agency_name = models.CharField("用证单位", max_length=200, blank=True)
    occurred_at = models.DateTimeField("时间")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "监视提醒"
        verbose_name_plural = "监视提醒"
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["origin_library", "origin_id"], name="watch_alert_origin_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}"
