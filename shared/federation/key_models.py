"""Key rotation state (issue #14): the keys peers announce and this library's own rotations.

Imported by shared.federation.models, so both models belong to the federation app as before;
a module of their own only to keep models.py small."""

from django.db import models


class PeerKey(models.Model):
    """A peer library's key announced beside the one this library trusts now (issue #14):
    an exchange key beside `Peer.kid`, or (at the hub) an access-log signing key beside the one
    last witnessed. A successor is accepted only from an announcement the current key signed
    (`shared.federation.rotation`); it verifies alongside the current key during the overlap,
    becomes current on retirement of the old one, and a retired kid is refused from then on."""

    class Purpose(models.TextChoices):
        EXCHANGE = "exchange", "交换密钥"
        ACCESS_LOG = "access_log", "访问日志签名密钥"

    class State(models.TextChoices):
        SUCCESSOR = "successor", "已公告（过渡期）"
        CURRENT = "current", "当前"
        RETIRED = "retired", "已退役"

    peer_code = models.CharField("库代码", max_length=6)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    kid = models.CharField(max_length=64)
    suite = models.CharField(max_length=8)
    public_pem = models.TextField()
    previous_kid = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=12, choices=State.choices)
    not_before = models.DateTimeField(null=True, blank=True)
    announced_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "对端密钥（轮换）"
        verbose_name_plural = "对端密钥（轮换）"
        ordering = ["peer_code", "purpose", "announced_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["peer_code", "purpose", "kid"], name="peerkey_peer_purpose_kid_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.peer_code} {self.purpose} {self.kid} {self.state}"


class KeyRotation(models.Model):
    """One rotation of this library's own key, an operator can follow: an exchange key is
    announced (over every stream, in an envelope the old key signs), activated once every
    receiver acknowledged the announcement, then the old one retired; an access-log key is
    announced and switched in one step (its stream is ordered: the hub reads the announcement
    before the first checkpoint the new key signs)."""

    class Purpose(models.TextChoices):
        EXCHANGE = "exchange", "交换密钥"
        ACCESS_LOG = "access_log", "访问日志签名密钥"

    class State(models.TextChoices):
        ANNOUNCED = "announced", "已公告"
        ACTIVE = "active", "新密钥签名中（过渡期）"
        RETIRED = "retired", "旧密钥已退役"

    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    old_kid = models.CharField(max_length=64)
    new_kid = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices)
    streams = models.JSONField(default=list, help_text="announcement outbox streams")
    not_before = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "本库密钥轮换"
        verbose_name_plural = "本库密钥轮换"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose", "new_kid"], name="keyrotation_purpose_new_kid_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.old_kid} → {self.new_kid} {self.state}"
