"""Federation state: keys, peers, the outbox, delivery cursors, digests, reconciliation.

Everything an operator needs to see about delivery is a row here (DESIGN §6): outbox events
with their state, attempts and last error; the cursor of every stream; every envelope received
or refused; every reconciliation run and what it found.
"""

from django.db import models

# Key rotation (issue #14) lives in its own module; imported here so Django registers the models
# with this app and callers keep importing them from shared.federation.models.
from shared.federation.key_models import KeyRotation as KeyRotation
from shared.federation.key_models import PeerKey as PeerKey


class LocalKey(models.Model):
    """This library's signing key for envelopes. One is active; older ones stay for verifying."""

    kid = models.CharField(max_length=64, unique=True)
    suite = models.CharField(max_length=8)
    private_pem = models.TextField(help_text="PKCS#8, encrypted with FEDERATION_KEY_PASSWORD")
    public_pem = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "本库交换密钥"
        verbose_name_plural = "本库交换密钥"

    def __str__(self) -> str:
        return f"{self.kid} ({self.suite})"


class Peer(models.Model):
    """Another library this one exchanges with: the hub at a node, the nodes at the hub."""

    class Adapter(models.TextChoices):
        HTTP = "http", "HTTP"
        AMQP = "amqp", "AMQP 消息总线"

    code = models.CharField("库代码", max_length=6, unique=True)
    name = models.CharField(max_length=100, blank=True)
    base_url = models.CharField(max_length=200, blank=True)
    kid = models.CharField(max_length=64)
    public_pem = models.TextField()
    adapter = models.CharField(
        max_length=8,
        choices=Adapter.choices,
        blank=True,
        help_text="为空时使用 EXCHANGE_ADAPTER 设置",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "交换对端"
        verbose_name_plural = "交换对端"
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StreamCounter(models.Model):
    """The last sequence number handed out on a stream; incremented under the row lock so the
    numbers are gap-free and follow commit order."""

    stream = models.CharField(max_length=6, unique=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.stream}: {self.last}"


class OutboxEvent(models.Model):
    """One change to deliver to `stream` (the receiving library's code), in `seq` order."""

    class State(models.TextChoices):
        PENDING = "pending", "待发送"
        SENT = "sent", "已发送"
        ACKNOWLEDGED = "acknowledged", "已确认"
        FAILED = "failed", "发送失败"
        DEAD = "dead", "死信"

    stream = models.CharField(max_length=6)
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=120, help_text="licence base identifier or type code")
    payload = models.JSONField()
    # The request that made the change (shared.audit.context), written in its transaction: it
    # travels with the event to the receiver, which logs it and answers it in the ack.
    request_id = models.CharField("请求编号", max_length=64, blank=True, default="")
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    acked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "外发事件"
        verbose_name_plural = "外发事件"
        ordering = ["stream", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="outbox_stream_seq_unique")
        ]
        indexes = [models.Index(fields=["stream", "state", "seq"])]

    def __str__(self) -> str:
        return f"{self.stream}#{self.seq} {self.kind} {self.state}"


class StreamState(models.Model):
    """Sender side of a stream: what the receiver acknowledged, and a lease so only one relay
    sends on a stream at a time (a lease, not a row lock, so SQLite works too)."""

    stream = models.CharField(max_length=6, unique=True)
    acked_seq = models.BigIntegerField(default=0)
    sent_seq = models.BigIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Events per envelope as the relay last learned it (shared.federation.sizing); null: none.
    envelope_size = models.PositiveIntegerField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.stream}: acked {self.acked_seq}"


class InboundCursor(models.Model):
    """Receiver side: the high-water mark of every sender's stream to this library."""

    sender = models.CharField(max_length=6, unique=True)
    high_water_mark = models.BigIntegerField(default=0)
    backlog = models.BigIntegerField(default=0, help_text="events pending at the sender")
    last_envelope_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.sender}: {self.high_water_mark}"


class ReceivedEnvelope(models.Model):
    """Every envelope that reached this library, applied or refused (forgeries and replays are
    logged here with their reason)."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "已应用"
        DUPLICATE = "duplicate", "重复（已忽略）"
        GAP = "gap", "序号缺口（拒绝）"
        REFUSED = "refused", "拒绝"

    envelope_id = models.CharField(max_length=64, db_index=True)
    sender = models.CharField(
        max_length=6, blank=True, help_text="authenticated sender; empty when unauthenticated"
    )
    claimed_sender = models.CharField(
        max_length=32, blank=True, help_text="the sender an unauthenticated envelope named"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    first_seq = models.BigIntegerField(null=True)
    last_seq = models.BigIntegerField(null=True)
    applied = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    transport = models.CharField(max_length=8, default="http")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "接收信封"
        verbose_name_plural = "接收信封"
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.sender} {self.envelope_id} {self.outcome}"


class RejectedEvent(models.Model):
    """An event the receiver could not apply (its content is wrong): dead-lettered here, so the
    stream moves on and an operator can see and fix it."""

    sender = models.CharField(max_length=6)
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    key = models.CharField(max_length=120)
    error_code = models.CharField(max_length=64)
    error_message = models.CharField(max_length=500)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "seq"], name="rejected_event_unique")
        ]

    def __str__(self) -> str:
        return f"{self.sender}#{self.seq} {self.error_code}"


class Arrival(models.Model):
    """When a licence first reached this library, against its deadline (art. 14, 33)."""

    key = models.CharField(max_length=120, unique=True)
    # No index of their own: every read by city goes through the two indexes below that
    # lead with it, and by issuer only within a range of arrived_at. Ingest writes a row per
    # licence, and each of the four indexes these had (with their LIKE twins) cost it.
    library_code = models.CharField(max_length=6)
    issuer_code = models.CharField(max_length=18)
    mode = models.CharField(max_length=10)
    case_completed_at = models.DateTimeField()
    committed_at = models.DateTimeField(help_text="commit at the sending library")
    arrived_at = models.DateTimeField()
    lag_seconds = models.FloatField(help_text="from commit at the sender to applied here")
    deadline_at = models.DateTimeField()
    deadline_provisional = models.BooleanField(default=False)
    late = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["library_code", "late"]),
            # the sync lag over time (hub console): a range of arrived_at, the lag carried
            # along so the percentiles are an index-only scan
            models.Index(
                fields=["arrived_at"], include=["lag_seconds"], name="arrival_arrived_lag"
            ),
            models.Index(
                fields=["library_code", "arrived_at"],
                include=["lag_seconds"],
                name="arrival_city_arrived_lag",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {'late' if self.late else 'on time'}"


class Bucket(models.Model):
    """Digest of a bucket of licences (count and XOR of leaf digests), for reconciliation.

    Maintained by a PostgreSQL trigger on the licence table, so even a change made directly in
    the database shows up; on SQLite (the embedded demo) by the application.
    """

    scope = models.CharField(max_length=6)
    level = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=64)
    parent = models.CharField(max_length=64, blank=True, help_text="the level-0 key of a slice")
    count = models.BigIntegerField(default=0)
    xor = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "level", "key"], name="bucket_unique")
        ]
        indexes = [models.Index(fields=["scope", "level", "parent"])]

    def __str__(self) -> str:
        return f"{self.scope}/{self.level}/{self.key}"


class Leaf(models.Model):
    """A released licence's leaf digest and slice, kept by the same trigger as the buckets, so
    the last step of a reconciliation reads only the licences of the slices that differ."""

    license_id = models.BigIntegerField(unique=True)
    scope = models.CharField(max_length=6)
    slice_key = models.CharField(max_length=64)
    base = models.CharField(max_length=120)
    digest = models.CharField(max_length=32)

    class Meta:
        indexes = [
            # Covering: the last step of a reconciliation reads (base, digest) of a few slices
            # from the index alone, not from a heap page per licence.
            models.Index(
                fields=["scope", "slice_key"], include=["base", "digest"], name="leaf_slice_cover"
            )
        ]

    def __str__(self) -> str:
        return self.base


class ReconcileRun(models.Model):
    """One reconciliation with a peer. `repairs` says what it did in which direction: entries
    `{"kind": "license"|"type"|"file", "direction": "up"|"down", "action", "count", "keys"}`
    ("up": the hub's copy repaired from the city; "down": the city's copy from the hub)."""

    class State(models.TextChoices):
        RUNNING = "running", "进行中"
        DONE = "done", "完成"
        FAILED = "failed", "失败"

    scope = models.CharField("对账的库", max_length=6)
    peer = models.CharField(max_length=6)
    trigger = models.CharField(max_length=10, default="manual")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    buckets_compared = models.PositiveIntegerField(default=0)
    round_trips = models.PositiveIntegerField(default=0)
    differences = models.PositiveIntegerField(default=0)
    missing_at_hub = models.PositiveIntegerField(default=0)
    stale_at_hub = models.PositiveIntegerField(default=0)
    only_at_hub = models.PositiveIntegerField(default=0)
    repaired = models.PositiveIntegerField(default=0)
    flagged = models.JSONField(default=list, blank=True)
    repairs = models.JSONField(
        default=list,
        blank=True,
        help_text="what was repaired or flagged: kind × direction × action, count and keys",
    )
    error = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "对账记录"
        verbose_name_plural = "对账记录"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.scope} {self.started_at:%Y-%m-%d %H:%M} {self.differences}"

    def repairs_display(self) -> list[str]:
        """The repairs in words, for screens: "证照·下行（枢纽→城市）·重发 2"."""
        return [
            "·".join(
                (
                    REPAIR_WORDS.get(r["kind"], r["kind"]),
                    REPAIR_WORDS.get(r["direction"], r["direction"]),
                    REPAIR_WORDS.get(r["action"], r["action"]),
                )
            )
            + f" {r['count']}"
            for r in self.repairs
        ]


REPAIR_WORDS = {
    "license": "证照",
    "type": "证照类型",
    "file": "文件",
    "up": "上行（城市→枢纽）",
    "down": "下行（枢纽→城市）",
    "resent": "由签发方重发",
    "refetched": "重新获取",
    "quarantined": "隔离（城市从未签发）",
    "flagged_lost_at_node": "标记：城市缺失（保留）",
    "flagged_referenced": "标记：仅枢纽有且被引用（保留）",
    "flagged_orphan": "标记：仅城市有（枢纽无此证照）",
    "flagged_only_at_hub": "标记：仅枢纽有",
}


class QuarantinedRecord(models.Model):
    """A licence event or version a whole-licence repair from the licence's owner did not carry
    (or carried with other content): never the owner's, so moved out of the licence's history
    and kept here for an operator (issue #10: reconciliation repairs events as well as rows).
    Kind `license`: a whole licence held at the hub under a city's code that the city never
    issued (no arrival from it, absent at the city): moved out by reconciliation (issue #13)."""

    class Kind(models.TextChoices):
        EVENT = "event", "证照事件"
        VERSION = "version", "证照版本"
        LICENSE = "license", "证照"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    license_id = models.BigIntegerField(db_index=True)
    library_code = models.CharField(max_length=6)
    identifier = models.CharField(max_length=120)
    number = models.PositiveIntegerField(help_text="event seq or version number")
    sender = models.CharField(max_length=6, help_text="the owner whose repair removed it")
    reason = models.CharField(max_length=64)
    data = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "隔离的证照记录"
        verbose_name_plural = "隔离的证照记录"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier}#{self.number} {self.reason}"
