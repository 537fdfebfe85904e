"""Which outside identity a holder account stands for (issue #14 item 1)."""

from django.conf import settings
from django.db import models


class ExternalIdentity(models.Model):
    """A holder account's link to a subject of an identity provider (the provincial unified
    login): found by (issuer, subject) at every later sign-in, never by name or code, so a
    provider that reissues a code to someone else cannot reach this account.

    Unique on (issuer, subject): two first sign-ins at once make one account, not two."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    issuer = models.CharField("身份提供方", max_length=300)
    subject = models.CharField("主体标识", max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_login_at = models.DateTimeField("最近登录", null=True, blank=True)

    class Meta:
        verbose_name = "外部身份"
        verbose_name_plural = "外部身份"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="identity_issuer_subject")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"
