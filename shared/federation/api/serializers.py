from rest_framework import serializers

from shared.federation.models import OutboxEvent, ReconcileRun, RemoteFile


class IngestAckSerializer(serializers.Serializer):
    high_water_mark = serializers.IntegerField()
    applied = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class StatusSerializer(serializers.Serializer):
    node = serializers.CharField()
    high_water_mark = serializers.IntegerField()


class DigestRequestSerializer(serializers.Serializer):
    scope = serializers.RegexField(r"^\d{6}$")
    level = serializers.IntegerField(min_value=0, max_value=2)
    prefixes = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True), max_length=1000, default=list
    )


class DigestResponseSerializer(serializers.Serializer):
    digests = serializers.DictField(child=serializers.ListField())


class ResendRequestSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.CharField(max_length=120), max_length=10000)


class ResendResponseSerializer(serializers.Serializer):
    queued = serializers.IntegerField()


class OutboxEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboxEvent
        fields = [
            "id",
            "stream",
            "seq",
            "kind",
            "key",
            "state",
            "attempts",
            "last_error",
            "next_attempt_at",
            "created_at",
            "sent_at",
            "acked_at",
        ]


class OutboxRetrySerializer(serializers.Serializer):
    stream = serializers.CharField(max_length=6, required=False)
    ids = serializers.ListField(child=serializers.IntegerField(), required=False)


class OutboxRetryResultSerializer(serializers.Serializer):
    retried = serializers.IntegerField()


class StreamSummarySerializer(serializers.Serializer):
    stream = serializers.CharField()
    pending = serializers.IntegerField()
    sent = serializers.IntegerField()
    acknowledged = serializers.IntegerField()
    failed = serializers.IntegerField()
    dead = serializers.IntegerField()
    last_seq = serializers.IntegerField()


class ReconcileRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReconcileRun
        fields = [
            "id",
            "scope",
            "peer",
            "trigger",
            "state",
            "buckets_compared",
            "round_trips",
            "differences",
            "missing_at_hub",
            "stale_at_hub",
            "only_at_hub",
            "repaired",
            "flagged",
            "error",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


class ReconcileStartSerializer(serializers.Serializer):
    peer = serializers.RegexField(r"^\d{6}$")


class AggregationNodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    high_water_mark = serializers.IntegerField()
    last_event_at = serializers.DateTimeField(allow_null=True)
    last_envelope_at = serializers.DateTimeField(allow_null=True)
    backlog = serializers.IntegerField()
    lag_seconds_avg_24h = serializers.FloatField(allow_null=True)
    lag_seconds_max_24h = serializers.FloatField(allow_null=True)
    arrivals_24h = serializers.IntegerField()
    refused_envelopes_24h = serializers.IntegerField()
    rejected_events = serializers.IntegerField()
    rejected_not_owner = serializers.IntegerField(
        help_text="该市发来、因修改不属于该市的记录而被拒收（死信）的事件数"
    )
    quarantined_records = serializers.IntegerField(
        help_text="该市证照中被该市的整证修复移出、隔离待查的事件与版本数"
    )
    late_by_issuer = serializers.ListField(child=serializers.DictField())
    licenses = serializers.IntegerField()
    last_reconciliation = serializers.DictField(allow_null=True)
    files = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="该市签章文件的获取情况：pending 待获取、failed 获取失败、ready 已获取",
    )


class RemoteFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = RemoteFile
        fields = [
            "id",
            "node",
            "identifier",
            "version",
            "variant",
            "sm3",
            "size",
            "content_type",
            "state",
            "attempts",
            "last_error",
            "next_attempt_at",
            "fetched_at",
            "created_at",
            "updated_at",
        ]


class RemoteFileRetrySerializer(serializers.Serializer):
    node = serializers.CharField(max_length=6, required=False)
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
    )
