"""Grants, the access log (hash-chained, checkpointed, witnessed), bulk-analysis requests and
holders' shared copies (DESIGN §7, arts. 19–30)."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from shared.accounts.models import Agency
from shared.catalog.models import LicenseType


class Grant(models.Model):
    """A consumer agency may use licences of one type for one matter (事项), within dates.

    Given by the node administrator for the city's types (tier `city`) or by the hub operator
    for province-wide use (tier `province`). Revoking sets `revoked_at`; nothing is deleted.
    """

    class Tier(models.TextChoices):
        CITY = "city", "市级（节点管理员授权）"
        PROVINCE = "province", "省级（省级运营人员授权）"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="grants")
    license_type = models.ForeignKey(LicenseType, on_delete=models.PROTECT, related_name="+")
    matter_code = models.CharField("事项编码", max_length=64)
    tier = models.CharField("授权层级", max_length=10, choices=Tier.choices)
    valid_from = models.DateField("生效日期")
    valid_to = models.DateField("截止日期", null=True, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "用证授权"
        verbose_name_plural = "用证授权"
        ordering = ["agency_id", "license_type_id", "matter_code", "-id"]
        indexes = [models.Index(fields=["agency", "matter_code"])]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.license_type_id}:{self.matter_code}"


class AccessRecord(models.Model):
    """One use of one licence (or one refused or empty attempt): who, agency, matter, purpose,
    licence, outcome, time. Rows of one request share `request_id`.

    Append-only. A row is written before the answer leaves, with `leaf_hash` = SM3 leaf hash of
    its canonical content; the sequencer (`shared.access.log.log_sequence`) later gives it its
    place in the chain once and for all: `seq`, `prev_hash`, `record_hash` =
    SM3(prev_hash ‖ leaf_hash). On PostgreSQL a trigger refuses every other UPDATE and any
    DELETE outside the retention purge (migration 0002, docs/access-log.md).

    On PostgreSQL the table is RANGE-partitioned by month on `recorded_at` (migration 0010):
    its primary key is (id, recorded_at) and `seq` and (`origin_library`, `origin_id`) are
    indexed, not unique, in the database (a unique index must include the partition key).
    Their uniqueness holds by construction: `seq` is given once under the chain head's lock
    (and verification reports a duplicate); an import is looked up before it is written, under
    the lock of its sender's inbound cursor (`shared.federation.ingest`), so never twice.
    """

    class Operation(models.TextChoices):
        QUERY = "query", "查询"
        VERIFY = "verify", "验证"
        COMPARE = "compare", "比对"
        COPY = "copy", "加注件"
        DOWNLOAD = "download", "下载"
        EXPORT = "export", "批量导出"
        BULK_REQUEST = "bulk_request", "批量分析申请"
        BULK_DECISION = "bulk_decision", "批量分析审批"
        LOG_READ = "log_read", "查阅用证记录"
        GRANT = "grant", "用证授权管理"
        HOLDER_VIEW = "holder_view", "持证人查看"
        REVIEW = "review", "复核申请"
        SUBSCRIBE = "subscribe", "状态变更订阅"

    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "已提供"
        NONE = "none", "无结果"
        REFUSED = "refused", "已拒绝"

    request_id = models.UUIDField(default=uuid.uuid4)
    seq = models.BigIntegerField("链上序号", null=True, blank=True, unique=True)
    leaf_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, blank=True)
    record_hash = models.CharField(max_length=64, blank=True)
    library_code = models.CharField("证照库", max_length=6)
    occurred_at = models.DateTimeField("时间", db_index=True)
    user_ref = models.BigIntegerField("用户 ID", null=True, blank=True)
    username = models.CharField("用户", max_length=150, blank=True)
    agency_code = models.CharField("单位代码", max_length=18, blank=True)
    agency_name = models.CharField("单位名称", max_length=200, blank=True)
    operation = models.CharField("操作", max_length=16, choices=Operation.choices)
    outcome = models.CharField("结果", max_length=10, choices=Outcome.choices)
    reason_code = models.CharField("拒绝原因代码", max_length=64, blank=True)
    matter_code = models.CharField("事项编码", max_length=64, blank=True)
    use_cause = models.CharField("用证事由", max_length=200, blank=True)
    identifier = models.CharField("证照标识", max_length=120, blank=True)
    type_code = models.CharField("证照类型代码", max_length=21, blank=True)
    issuer_code = models.CharField("签发单位代码", max_length=18, blank=True)
    source_library = models.CharField("证照来源库", max_length=6, blank=True)
    holder_digest = models.CharField("持证主体代码摘要", max_length=72, blank=True)
    holder_code_type = models.CharField(max_length=3, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    # A record another library wrote about one of this library's licences and sent here (the
    # hub's `access.record`): that library's code and its record id. Blank for our own.
    origin_library = models.CharField(
        "记录来源库", max_length=6, blank=True, default="", db_default=""
    )
    origin_id = models.BigIntegerField("来源库记录 ID", null=True, blank=True)
    # When this library wrote the row: on PostgreSQL the table is partitioned by month on it
    # (migration 0010, docs/access-log.md). Not `occurred_at`: a record imported from another
    # library carries its own, older time. Not part of the content the leaf hash covers.
    recorded_at = models.DateTimeField("写入时间", default=timezone.now, editable=False)

    class Meta:
        verbose_name = "用证记录"
        verbose_name_plural = "用证记录"
        ordering = ["-id"]
        constraints = [
            # An imported record is held once, however often it is delivered.
            models.UniqueConstraint(
                fields=["origin_library", "origin_id"],
                condition=~models.Q(origin_library=""),
                name="access_record_origin_once",
            )
        ]
        indexes = [
            models.Index(fields=["issuer_code", "occurred_at"]),
            models.Index(fields=["holder_digest", "occurred_at"]),
            models.Index(fields=["agency_code", "occurred_at"]),
            models.Index(
                fields=["id"], name="access_record_unsequenced", condition=models.Q(seq=None)
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq or '-'} {self.operation} {self.outcome} {self.identifier}"


class ChainHead(models.Model):
    """The tip of this library's chain: one row, locked by the sequencer."""

    seq = models.BigIntegerField(default=0)
    record_hash = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"head {self.seq}"


class LeafStub(models.Model):
    """What the retention purge keeps of a removed record: its place and hashes, no content,
    so proofs for later records and the chain across the purge still verify."""

    seq = models.BigIntegerField(primary_key=True)
    leaf_hash = models.CharField(max_length=64)
    record_hash = models.CharField(max_length=64)
    purge_run = models.ForeignKey("PurgeRun", on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"stub {self.seq}"


class Checkpoint(models.Model):
    """A signed tree head: tree size, Merkle root and chain head, signed with SM2 by this
    library. `frontier` lets the next checkpoint extend the tree without re-reading leaves."""

    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    head_hash = models.CharField(max_length=64)
    frontier = models.JSONField(default=list)
    library_code = models.CharField(max_length=6)
    signed_at = models.DateTimeField()
    key_id = models.CharField(max_length=32)
    public_key = models.TextField()
    signature = models.TextField(help_text="SM2 签名（DER，十六进制）")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "用证记录检查点"
        verbose_name_plural = "用证记录检查点"
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class TreeNode(models.Model):
    """The root of a perfect subtree of the log's Merkle tree, leaves index·2^level to
    (index+1)·2^level − 1, for levels from `shared.access.log.tree.LEVEL` up: a proof reads a
    few dozen of these, and a few hundred leaves, instead of every leaf of the log."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="access_treenode_unique")
        ]

    def __str__(self) -> str:
        return f"node {self.level}/{self.index}"


class PurgeRun(models.Model):
    """One retention purge: which records went to which archive file (art. 27: ≥ 3 years)."""

    class State(models.TextChoices):
        RUNNING = "running", "进行中"
        DONE = "done", "已完成"
        REFUSED = "refused", "已拒绝"
        FAILED = "failed", "失败"

    before = models.DateTimeField("清理此时间之前的记录")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    first_seq = models.BigIntegerField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    count = models.PositiveIntegerField(default=0)
    archive_path = models.CharField(max_length=500, blank=True)
    archive_digest = models.CharField(max_length=64, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    requested_by = models.CharField(max_length=150, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "用证记录清理"
        verbose_name_plural = "用证记录清理"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"purge {self.pk} {self.state}"


class VerifyRun(models.Model):
    """One verification of the whole log, run by a worker (a log of millions takes minutes):
    who asked, how far it got, and its report (`shared.access.log.verify_runs`)."""

    class State(models.TextChoices):
        QUEUED, RUNNING = ("queued", "排队中"), ("running", "校验中")
        DONE, FAILED = ("done", "已完成"), ("failed", "失败")

    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    requested_by = models.CharField(max_length=150)
    total = models.BigIntegerField(default=0)  # the chain's length when it started
    checked = models.BigIntegerField(default=0)
    ok = models.BooleanField(null=True)
    tree_size = models.BigIntegerField(default=0)
    problems = models.JSONField(default=list)
    last_error = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"verify {self.pk} {self.state}"


class BulkRequest(models.Model):
    """A bulk-analysis application (art. 21): a consumer asks, the issuer of the types decides,
    and an approved request yields one time-limited export produced by a Celery job."""

    class State(models.TextChoices):
        PENDING = "pending", "待审批"
        REFUSED = "refused", "已拒绝"
        APPROVED = "approved", "已批准，待导出"
        EXPORTING = "exporting", "导出中"
        READY = "ready", "可下载"
        FAILED = "failed", "导出失败"
        EXPIRED = "expired", "已过期"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON Lines"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Empty for a request that came from another library (its applicant is in `requester`).
    agency = models.ForeignKey(
        Agency, on_delete=models.PROTECT, related_name="bulk_requests", null=True, blank=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    issuer = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    license_types = models.ManyToManyField(LicenseType, related_name="+")
    fields = models.JSONField("字段")
    period_from = models.DateField("颁证日期起")
    period_to = models.DateField("颁证日期止")
    matter_code = models.CharField(max_length=64)
    purpose = models.CharField("用途", max_length=200)
    row_cap = models.PositiveIntegerField("行数上限")
    format = models.CharField(max_length=5, choices=Format.choices, default=Format.CSV)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.CharField(max_length=500, blank=True)
    approved_fields = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField("导出有效期至", null=True, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    file_path = models.CharField(max_length=500, blank=True)
    file_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Across tiers (issue #13 item 4): at the library where it was made, the library whose
    # issuer decides it (empty: decided here); at the deciding city, where it came from and who
    # applied there; at the requesting library, who decided at the city.
    decider_library = models.CharField("审批所在证照库", max_length=6, blank=True, default="")
    origin_library = models.CharField("申请所在证照库", max_length=6, blank=True, default="")
    requester = models.JSONField("申请方（外库）", default=dict, blank=True)
    decided_by_name = models.CharField("审批人（外库）", max_length=200, blank=True, default="")

    class Meta:
        verbose_name = "批量分析申请"
        verbose_name_plural = "批量分析申请"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"bulk {self.pk} {self.state}"

    @property
    def applicant_name(self) -> str:
        """The applying agency, also for a request that came from another library."""
        if self.agency is not None:
            return self.agency.name
        name = str(self.requester.get("agency_name", ""))
        return f"{name}（{self.origin_library}）" if self.origin_library else name

    @property
    def applicant_user(self) -> str:
        if self.requested_by is not None:
            return self.requested_by.username
        return str(self.requester.get("username", ""))

    @property
    def decider_name(self) -> str:
        return self.decided_by.username if self.decided_by is not None else self.decided_by_name


class HolderShare(models.Model):
    """A purpose-bound copy a holder made to share (加注件 link): one licence, a purpose, an
    expiry. Every view of it is an access record."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    holder = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    license = models.ForeignKey("licenses.License", on_delete=models.PROTECT, related_name="+")
    use_cause = models.CharField("用途", max_length=200)
    recipient = models.CharField("提供给", max_length=200, blank=True)
    token = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "持证人加注件"
        verbose_name_plural = "持证人加注件"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"share {self.pk}"


class AnonymousCount(models.Model):
    """Refusals of callers who did not say who they are (a 401 at the access API, a holder link
    that does not exist), counted per minute and kind instead of one chained record each: an
    anonymous caller cannot grow the permanent log, nor put text of its choosing in it.
    `limited` counts those of them answered 429 (over `ACCESS_ANON_PER_MINUTE`)."""

    minute = models.DateTimeField("分钟")
    kind = models.CharField("类别", max_length=64)
    count = models.PositiveBigIntegerField("次数", default=0)
    limited = models.PositiveBigIntegerField("其中限流次数", default=0)

    class Meta:
        verbose_name = "匿名拒绝计数"
        verbose_name_plural = "匿名拒绝计数"
        ordering = ["-minute", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["minute", "kind"], name="access_anon_minute_kind")
        ]

    def __str__(self) -> str:
        return f"{self.minute:%Y-%m-%d %H:%M} {self.kind} {self.count}"
