"""Signed licence files, the keys that seal them, status-list indexes, copies and legacy scans."""

import uuid

from django.conf import settings
from django.db import models

from shared.accounts.models import Agency
from shared.licenses.models import License


class SigningKey(models.Model):
    """A key of this library: the CA, a seal (per issuing agency, or the library's own), a TSA
    certificate, or a token key (QR tokens, trust list and status lists, in the crypto suite).

    Private keys are stored PBES2-encrypted (`private_key_pem`) or stay in an HSM
    (`backend=pkcs11`, addressed by `pkcs11_label`). Rotation retires a key (`active=False`)
    but never deletes it: the trust list keeps publishing it so that old files still verify.
    """

    class Kind(models.TextChoices):
        CA = "ca", "根证书（CA）"
        SEAL = "seal", "电子印章证书"
        TSA = "tsa", "时间戳证书"
        TOKEN = "token", "二维码与信任列表签名密钥"
        SM2_CA = "sm2ca", "SM2 根证书（OFD 电子印章制章者）"
        SM2_SEAL = "sm2seal", "SM2 电子印章证书（OFD）"

    class Backend(models.TextChoices):
        DATABASE = "db", "加密存储于数据库"
        PKCS11 = "pkcs11", "硬件密码模块（PKCS#11）"

    kind = models.CharField("类别", max_length=8, choices=Kind.choices)
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="signing_keys"
    )
    suite = models.CharField("算法套件", max_length=8, default="intl")
    key_id = models.CharField("密钥标识", max_length=64, unique=True)
    subject = models.CharField("主体", max_length=300)
    serial_hex = models.CharField("证书序列号", max_length=64, blank=True)
    certificate_pem = models.TextField("证书", blank=True)
    public_key_pem = models.TextField("公钥")
    private_key_pem = models.TextField("私钥（加密）", blank=True)
    backend = models.CharField(max_length=8, choices=Backend.choices, default=Backend.DATABASE)
    pkcs11_label = models.CharField(max_length=64, blank=True)
    # For token keys: the CA's ES256 statement that this key belongs to this library, so a
    # verifier who pins only the CA certificate can trust the trust list and the QR tokens.
    # For SM2 seal keys: the base64 DER GB/T 38540 `SESeal` the SM2 CA made for this key.
    endorsement = models.TextField(blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField("在用", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Revocation (seal certificates): files signed at or after `revoked_at` fail with the
    # reason; files signed before still verify. Published in the provincial trust list.
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)
    revocation_reason = models.CharField("吊销原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "签名密钥与证书"
        verbose_name_plural = "签名密钥与证书"
        ordering = ["kind", "-created_at"]
        constraints = [
            # At most one active key per kind and agency (NULL agency: the library's own).
            models.UniqueConstraint(
                fields=["kind", "agency"],
                condition=models.Q(active=True),
                name="signing_key_one_active",
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject} ({self.key_id[:12]})"


class LicenseFile(models.Model):
    """The signed PDF of one licence version, as a job an operator can watch and retry.

    One row per version identifier and variant: `original` for the version in force, and one
    watermarked variant when that version is revoked, annulled or cancelled (both are kept).
    The row is written in the transaction of the licence change; the `signing` queue renders it
    after commit. `state` is pending → ready, or failed after `FILES_MAX_ATTEMPTS`.
    """

    class Variant(models.TextChoices):
        ORIGINAL = "original", "正本"
        REVOKED = "revoked", "已吊销"
        ANNULLED = "annulled", "已撤销"
        CANCELLED = "cancelled", "已注销"

    class State(models.TextChoices):
        PENDING = "pending", "生成中"
        READY = "ready", "已生成"
        FAILED = "failed", "生成失败"

    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="files")
    identifier = models.CharField("证照标识", max_length=120)
    version = models.PositiveIntegerField("版本")
    variant = models.CharField(max_length=10, choices=Variant.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=1000, blank=True)
    path = models.CharField(max_length=300, blank=True)
    size = models.PositiveIntegerField(default=0)
    sm3 = models.CharField("文件摘要（SM3）", max_length=64, blank=True)
    seal = models.ForeignKey(SigningKey, on_delete=models.PROTECT, null=True, related_name="+")
    qr_url = models.CharField(max_length=1000, blank=True)
    qr_expires_at = models.DateTimeField(null=True, blank=True)
    timestamped = models.BooleanField("含时间戳（B-T）", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    rendered_at = models.DateTimeField(null=True, blank=True)
    # When a signing process took the row (shared/files/drain.py): other drains leave it alone
    # for FILES_CLAIM_SECONDS, so two processes do not render the same file.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The OFD (GB/T 33190) of the same version and variant, sealed GB/T 38540 (SM2/SM3). Made on
    # the first `file.ofd` request, so issuing does not wait for it; empty until then.
    ofd_path = models.CharField(max_length=300, blank=True)
    ofd_size = models.PositiveIntegerField(default=0)
    ofd_sm3 = models.CharField("OFD 文件摘要（SM3）", max_length=64, blank=True)
    ofd_seal = models.ForeignKey(
        SigningKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ofd_rendered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "证照文件"
        verbose_name_plural = "证照文件"
        ordering = ["license_id", "version", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["identifier", "variant"], name="license_file_unique"),
        ]
        indexes = [
            models.Index(fields=["state", "updated_at"]),
            # The drain's claim: the pending rows, oldest first (a small, changing set).
            models.Index(
                fields=["id"], condition=models.Q(state="pending"), name="license_file_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} {self.variant} {self.state}"


class StatusListIndex(models.Model):
    """A licence's position in its issuer's status lists (W3C Bitstring Status List).

    Drawn at random when the licence is issued, so the position says nothing about the licence
    and a verifier who fetches the whole list names no licence to the server.
    """

    license = models.OneToOneField(License, on_delete=models.PROTECT, related_name="status_index")
    issuer = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    index = models.PositiveIntegerField()

    class Meta:
        verbose_name = "状态列表位置"
        verbose_name_plural = "状态列表位置"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "index"], name="status_index_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer_id}#{self.index}"


class AnnotatedCopy(models.Model):
    """加注件: a copy of a licence file, watermarked with who asked and why, and sealed again.

    Downloadable by the requesting agency until `expires_at`; the row is the record of who made
    it, for which matter and for what purpose.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    license = models.ForeignKey(License, on_delete=models.PROTECT, related_name="copies")
    identifier = models.CharField("证照标识", max_length=120)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    matter_code = models.CharField("事项编码", max_length=64)
    use_cause = models.CharField("用证事由", max_length=200)
    expires_at = models.DateTimeField("下载截止时间")
    path = models.CharField(max_length=300)
    size = models.PositiveIntegerField(default=0)
    sm3 = models.CharField(max_length=64)
    seal = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "加注件"
        verbose_name_plural = "加注件"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"加注件 {self.identifier} ({self.use_cause[:20]})"


class LegacyScan(models.Model):
    """The scan of a paper licence digitised under art. 16; its file embeds it as the page."""

    license = models.OneToOneField(License, on_delete=models.PROTECT, related_name="legacy_scan")
    content_type = models.CharField(max_length=50)
    original_name = models.CharField(max_length=200, blank=True)
    path = models.CharField(max_length=300)
    size = models.PositiveIntegerField()
    sm3 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "存量证照扫描件"
        verbose_name_plural = "存量证照扫描件"

    def __str__(self) -> str:
        return f"扫描件 {self.license_id}"


class ProvincialTrustList(models.Model):
    """This library's copy of the provincial trust list (every library's token keys, seal
    certificates, SM2 seals, revocations), as the hub signed it with its federation key.

    One row (`name="province"`). A node stores what it fetched and verified; the hub stores
    what it publishes. Kept in the database so verification works after a restart and while
    the hub is unreachable. `last_attempt_at` rate-limits on-demand refreshes.
    """

    name = models.CharField(max_length=16, unique=True, default="province")
    version = models.BigIntegerField("版本", default=0)
    issued_at = models.DateTimeField("签发时间", null=True, blank=True)
    document = models.JSONField("信任列表", default=dict)
    signature = models.TextField("签名", blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "全省信任列表（缓存）"
        verbose_name_plural = "全省信任列表（缓存）"

    def __str__(self) -> str:
        return f"全省信任列表 v{self.version}"


class StatusListCache(models.Model):
    """Another library's signed status list for one issuer and purpose, kept until its
    `valid_until` (its TTL): the status of another city's licence is read from it, never
    guessed."""

    library = models.CharField("库代码", max_length=6)
    issuer_code = models.CharField("签发单位代码", max_length=64)
    purpose = models.CharField(max_length=16)
    token = models.TextField()
    valid_until = models.DateTimeField()
    fetched_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "外库状态列表（缓存）"
        verbose_name_plural = "外库状态列表（缓存）"
        constraints = [
            models.UniqueConstraint(
                fields=["library", "issuer_code", "purpose"], name="status_list_cache_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.library}/{self.issuer_code}/{self.purpose}"
