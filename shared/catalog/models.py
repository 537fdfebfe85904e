"""The licence catalogue (证照目录, GB/T 36902)."""

from django.db import models

from shared.accounts.models import Agency


class LicenseType(models.Model):
    """A catalogue entry. A type must be published before licences of it are issued (art. 12).

    `type_code` is 21 characters: the definer's USCC and a 3-digit sequence. `surface_schema` is a
    JSON Schema of the per-type surface fields (照面信息); `template` is the background and field
    layout used to render files.
    """

    class State(models.TextChoices):
        DRAFT = "draft", "草稿"
        PUBLISHED = "published", "已发布"
        RETIRED = "retired", "已停用"

    class HolderCategory(models.TextChoices):
        PERSON = "person", "个人"
        LEGAL = "legal", "法人和其他组织"
        BOTH = "both", "个人或法人"

    class Level(models.TextChoices):
        NATIONAL = "national", "国家级"
        PROVINCE = "province", "省级"
        CITY = "city", "市级"
        COUNTY = "county", "县级"

    type_code = models.CharField("证照类型代码", max_length=21, unique=True)
    name = models.CharField("证照名称", max_length=200)
    definer_name = models.CharField("证照定义机构", max_length=200)
    definer_code = models.CharField("证照定义机构代码", max_length=18)
    definer_level = models.CharField("定义机构级别", max_length=10, choices=Level.choices)
    issuer = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="license_types", verbose_name="签发单位"
    )
    issuer_level = models.CharField("签发机构级别", max_length=10, choices=Level.choices)
    holder_category = models.CharField(
        "持证主体类别", max_length=10, choices=HolderCategory.choices
    )
    validity_min_days = models.PositiveIntegerField("最短有效期（天）", null=True, blank=True)
    validity_max_days = models.PositiveIntegerField(
        "最长有效期（天）", null=True, blank=True, help_text="为空表示可长期有效"
    )
    related_matters = models.JSONField("关联事项", default=list, blank=True)
    surface_schema = models.JSONField("照面信息结构（JSON Schema）", default=dict)
    template = models.JSONField("证照底图与版式", default=dict, blank=True)
    qr_validity_days = models.PositiveIntegerField("二维码有效期（天）", default=30)
    annual_inspection = models.BooleanField("需要年检", default=False)
    # The yearly window of the online annual inspection (网络年检, art. 26), "MM-DD" each end,
    # within one calendar year; required when `annual_inspection` (shared.catalog.inspection).
    # A database default too: rows inserted by SQL (bench) leave them out.
    inspection_window_start = models.CharField(
        "年检开始日期（MM-DD）", max_length=5, blank=True, default="", db_default=""
    )
    inspection_window_end = models.CharField(
        "年检截止日期（MM-DD）", max_length=5, blank=True, default="", db_default=""
    )
    requires_review = models.BooleanField("签发前需审核", default=False)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.DRAFT)
    description = models.TextField("说明", blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "证照类型"
        verbose_name_plural = "证照目录"
        ordering = ["type_code"]

    def __str__(self) -> str:
        return f"{self.name}（{self.type_code}）"
