"""One match of a watch at the hub: a licence issued or changed, or an access record, under
the watched identity. Unique per (watch, kind, source), so a redelivered envelope, a repair
that carries the same event again or a second sequencing never matches twice; the hit's id is
the alert's origin id at the watch's home library."""

from django.db import models

from shared.watch.models import Watch, WatchAlert


class WatchHit(models.Model):
    watch = models.ForeignKey(Watch, on_delete=models.PROTECT, related_name="hits")
    kind = models.CharField("事件", max_length=10, choices=WatchAlert.Kind.choices)
    # "<type>.<issuer>.<serial>#<event seq>" for a licence event, "access:<record id>" for a use.
    source = models.CharField("来源", max_length=160)
    identifier = models.CharField("证照标识", max_length=120, blank=True)
    library_code = models.CharField("发证库", max_length=6, blank=True)
    occurred_at = models.DateTimeField("时间")
    alert = models.JSONField("提醒内容", default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "监视命中"
        verbose_name_plural = "监视命中"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["watch", "kind", "source"], name="hub_watch_hit_unique")
        ]

    def __str__(self) -> str:
        return f"{self.watch_id} {self.kind} {self.source}"
