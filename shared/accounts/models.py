"""Agencies, their staff, and API tokens."""

import hashlib

from django.contrib.auth.models import AbstractUser
from django.db import models

from shared.core.holder_codes import HolderCode


class Agency(models.Model):
    """A government department, service centre or qualified institution (art. 3).

    An agency issues licences (证照签发单位), uses them (证照应用单位), or both.
    """

    class Kind(models.TextChoices):
        DEPARTMENT = "department", "政府部门"
        SERVICE_CENTRE = "service_centre", "政务服务中心"
        THIRD_PARTY = "third_party", "第三方机构"

    class Level(models.TextChoices):
        PROVINCE = "province", "省级"
        CITY = "city", "市级"
        COUNTY = "county", "县级"

    code = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("单位名称", max_length=200)
    kind = models.CharField(
        "单位类别", max_length=20, choices=Kind.choices, default=Kind.DEPARTMENT
    )
    level = models.CharField("层级", max_length=10, choices=Level.choices, default=Level.CITY)
    area_code = models.CharField("行政区划代码", max_length=6)
    is_issuer = models.BooleanField("证照签发单位", default=False)
    is_consumer = models.BooleanField("证照应用单位", default=False)
    active = models.BooleanField("启用", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "单位"
        verbose_name_plural = "单位"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class User(AbstractUser):
    """A person: agency staff, an agency administrator, or the library's administrator.

    `library_admin` is the node administrator at a city node and the hub operator at the hub.
    """

    class Role(models.TextChoices):
        STAFF = "staff", "经办人员"
        AGENCY_ADMIN = "agency_admin", "单位管理员"
        LIBRARY_ADMIN = "library_admin", "库管理员（节点管理员/省级运营人员）"
        HOLDER = "holder", "持证人"
        # The provincial management unit (省发改委, art. 6, 31): reads what supervision needs,
        # issues and closes rectification notices; never issues, changes or queries licences.
        SUPERVISOR = "supervisor", "监管人员（省级管理单位）"

    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    role = models.CharField("角色", max_length=20, choices=Role.choices, default=Role.STAFF)
    display_name = models.CharField("姓名", max_length=100, blank=True)
    # A holder (role `holder`) signs in to the holder portal; the code is kept as SM4
    # ciphertext plus a keyed digest for lookup (shared.core.holder_codes), never in plaintext.
    holder_code_type = models.CharField("持证主体代码类型", max_length=3, blank=True)
    holder_code_enc = models.BinaryField("持证主体代码（密文）", null=True, blank=True)
    holder_code_digest = models.CharField(max_length=72, blank=True, db_index=True)
    holder_code = HolderCode()

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = "用户"

    @property
    def is_library_admin(self) -> bool:
        return self.role == self.Role.LIBRARY_ADMIN

    @property
    def is_agency_admin(self) -> bool:
        return self.role == self.Role.AGENCY_ADMIN and self.agency_id is not None

    @property
    def is_holder(self) -> bool:
        return self.role == self.Role.HOLDER

    @property
    def is_supervisor(self) -> bool:
        return self.role == self.Role.SUPERVISOR


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored; the secret is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField("用途", max_length=100)
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API 令牌"
        verbose_name_plural = "API 令牌"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    @staticmethod
    def digest_of(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()
