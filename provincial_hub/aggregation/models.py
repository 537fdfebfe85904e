"""Tables only the hub keeps: the sector libraries it queries, the city files it fetches by
digest, and its witness of every node's access-log checkpoints.

They moved here from `federation` and `access` (issue #11) with their tables: `db_table` keeps
the old names, so existing hub databases keep their rows (migration 0001 is state-only).
"""

from django.db import models
from django.utils import timezone


class SectorLibrary(models.Model):
    """A provincial department's own library (art. 9), queried at the hub, never copied."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    base_url = models.CharField(max_length=200)
    type_codes = models.JSONField(default=list)
    token = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        db_table = "federation_sectorlibrary"
        verbose_name = "行业电子证照库"
        verbose_name_plural = "行业电子证照库"

    def __str__(self) -> str:
        return self.name


class SectorCall(models.Model):
    """One call the hub made to a sector library — a share query or an operator's probe — and
    its outcome: the library's health (last success, error rate, latency) is read from these.
    Written where the call is made, whatever the outcome; insert-only, so concurrent queries
    never wait on each other."""

    class Kind(models.TextChoices):
        QUERY = "query", "查询"
        PROBE = "probe", "检测"

    library = models.ForeignKey(SectorLibrary, on_delete=models.CASCADE, related_name="calls")
    kind = models.CharField(max_length=5, choices=Kind.choices)
    ok = models.BooleanField()
    latency_ms = models.FloatField()
    error = models.CharField(max_length=300, blank=True)
    by = models.CharField("发起人", max_length=150, blank=True, help_text="a probe's operator")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "行业库调用"
        verbose_name_plural = "行业库调用"
        ordering = ["-at"]
        indexes = [
            models.Index(fields=["library", "at"], name="sector_call_library_at"),
            models.Index(fields=["library", "ok", "at"], name="sector_call_library_ok_at"),
        ]

    def __str__(self) -> str:
        return f"{self.library_id} {self.kind} {'ok' if self.ok else 'failed'}"


class RemoteFile(models.Model):
    """A city's licence file the hub holds by reference (`file.ready` events), and the job of
    fetching its bytes from the node by SM3 digest (DESIGN §6: files travel by digest).

    One row per version identifier and variant. `state` is pending → ready, or failed with
    attempts, last error and the next try (back-off); the beat sweep retries, an operator can
    reset the attempts. The bytes are stored only once their SM3 and size match the event.
    """

    class State(models.TextChoices):
        PENDING = "pending", "待获取"
        READY = "ready", "已获取"
        FAILED = "failed", "获取失败"

    node = models.CharField("来源库", max_length=6)
    identifier = models.CharField("证照标识", max_length=120)
    version = models.PositiveIntegerField("版本")
    variant = models.CharField(max_length=10)
    sm3 = models.CharField("文件摘要（SM3）", max_length=64)
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=50, default="application/pdf")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    path = models.CharField(max_length=300, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)
    audited_at = models.DateTimeField(null=True, blank=True)  # last checked on disk
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "federation_remotefile"
        verbose_name = "城市证照文件"
        verbose_name_plural = "城市证照文件"
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["identifier", "variant"], name="remote_file_unique"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["node", "state"]),
            models.Index(fields=["sm3"]),
            models.Index(fields=["node", "state", "audited_at"], name="remote_file_audit_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.node} {self.identifier} {self.variant} {self.state}"


class Witness(models.Model):
    """At the hub: a node's checkpoint as received, and whether it extends the last one
    witnessed (a node cannot rewrite its history unseen)."""

    class Status(models.TextChoices):
        CONSISTENT = "consistent", "一致"
        INCONSISTENT = "inconsistent", "不一致（历史被改写）"
        BAD_SIGNATURE = "bad_signature", "签名无效"
        UNPROVEN = "unproven", "缺少一致性证明"

    node_code = models.CharField("节点", max_length=6, db_index=True)
    tree_size = models.BigIntegerField()
    root_hash = models.CharField(max_length=64)
    head_hash = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    key_id = models.CharField(max_length=32, blank=True)
    public_key = models.TextField(blank=True)
    signature = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    problem = models.CharField(max_length=300, blank=True)
    previous = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "access_witness"
        verbose_name = "检查点见证"
        verbose_name_plural = "检查点见证"
        ordering = ["node_code", "-id"]

    def __str__(self) -> str:
        return f"{self.node_code}@{self.tree_size} {self.status}"


class LibraryTrust(models.Model):
    """One library's public trust material as it last reported it (`trust.keys`; the hub's
    own is read from its keys): token keys, CA and seal certificates, SM2 seals, revocations.
    The provincial trust list is built from these rows (`aggregation.trust`)."""

    library = models.CharField("库代码", max_length=6, unique=True)
    material = models.JSONField("信任材料")
    sm3 = models.CharField("材料摘要（SM3）", max_length=64)
    received_at = models.DateTimeField("最近收到", auto_now=True)
    changed_at = models.DateTimeField("最近变化")

    class Meta:
        verbose_name = "证照库信任材料"
        verbose_name_plural = "证照库信任材料"
        ordering = ["library"]

    def __str__(self) -> str:
        return f"{self.library} 信任材料"


# --- the partitioned licence tables' global keys (provincial_hub.aggregation.partitions) -------
# Kept by triggers in the same statement as each write; nothing writes them directly. Declared
# as models so that Django knows the tables (a test's flush empties them with the licences).


class LicenceKey(models.Model):
    """The global keys of one hub licence: its id, identifier and (issuer, type, serial), and
    its holder's digest (to find a holder's licences without planning every partition)."""

    id = models.BigIntegerField(primary_key=True)
    identifier = models.CharField(max_length=120)
    issuer_id = models.BigIntegerField()
    license_type_id = models.BigIntegerField()
    serial = models.CharField(max_length=30)
    library_code = models.CharField(max_length=6)
    created_at = models.DateTimeField()
    holder_code_digest = models.CharField(max_length=72, default="")

    class Meta:
        db_table = "licenses_license_key"
        indexes = [models.Index(fields=["holder_code_digest"], name="license_key_holder_idx")]
        constraints = [
            models.UniqueConstraint(fields=["identifier"], name="license_key_identifier_unique"),
            models.UniqueConstraint(
                fields=["issuer_id", "license_type_id", "serial"], name="license_key_serial_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.identifier


class LicenceVersionKey(models.Model):
    """The global keys of one hub licence version: its id, identifier and (licence, version)."""

    id = models.BigIntegerField(primary_key=True)
    identifier = models.CharField(max_length=120)
    license_id = models.BigIntegerField()
    version = models.IntegerField()
    library_code = models.CharField(max_length=6)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "licenses_licenseversion_key"
        constraints = [
            models.UniqueConstraint(fields=["identifier"], name="version_key_identifier_unique"),
            models.UniqueConstraint(
                fields=["license_id", "version"], name="version_key_license_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.identifier


class LicenceEventKey(models.Model):
    """The global keys of one hub licence event: its id and (licence, seq)."""

    id = models.BigIntegerField(primary_key=True)
    license_id = models.BigIntegerField()
    seq = models.IntegerField()
    library_code = models.CharField(max_length=6)
    created_at = models.DateTimeField()

    class Meta:
        db_table = "licenses_licenseevent_key"
        constraints = [
            models.UniqueConstraint(fields=["license_id", "seq"], name="event_key_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.license_id}#{self.seq}"
