"""A legal person's delegation to its staff (issue #14 item 1): the holder account of a legal
person (code type 001) lets named holder accounts of natural persons act for it in the holder
portal — see its licences, download them, share them — until the delegation expires or is
revoked. One live (unrevoked) delegation per pair: granting again renews it."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Delegation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    principal = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="delegations_granted",
        verbose_name="授权法人",
    )
    delegate = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="delegations_held",
        verbose_name="经办人",
    )
    expires_at = models.DateTimeField("有效期至")
    created_at = models.DateTimeField("授权时间", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)

    class Meta:
        verbose_name = "法人授权"
        verbose_name_plural = "法人授权"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "delegate"],
                condition=models.Q(revoked_at__isnull=True),
                name="delegation_one_live_per_pair",
            )
        ]

    def __str__(self) -> str:
        return f"delegation {self.pk}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
