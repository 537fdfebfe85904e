from rest_framework import serializers

from shared.federation.models import OutboxEvent, ReconcileRun


class IngestAckSerializer(serializers.Serializer):
    high_water_mark = serializers.IntegerField()
    applied = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())
    request_ids = serializers.ListField(
        child=serializers.CharField(),
        help_text="本信封中已接收事件所属的发送方请求编号（X-Request-ID），按序去重；旧版本接收方不返回",
    )


class StatusSerializer(serializers.Serializer):
    node = serializers.CharField()
    high_water_mark = serializers.IntegerField()


class DigestRequestSerializer(serializers.Serializer):
    scope = serializers.RegexField(r"^\d{6}$")
    level = serializers.IntegerField(min_value=0, max_value=2)
    prefixes = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True), max_length=1000, default=list
    )
    # "types": the catalogue of `scope` (one flat map of type code -> digest; level ignored)
    kind = serializers.ChoiceField(choices=["licenses", "types"], default="licenses")


class DigestResponseSerializer(serializers.Serializer):
    digests = serializers.DictField(child=serializers.ListField())


class ResendRequestSerializer(serializers.Serializer):
    keys = serializers.ListField(child=serializers.CharField(max_length=120), max_length=10000)
    types = serializers.ListField(
        child=serializers.CharField(max_length=32), max_length=10000, required=False, default=list
    )


class ResendResponseSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    types_queued = serializers.IntegerField()


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
            "repairs",
            "error",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


class ReconcileStartSerializer(serializers.Serializer):
    peer = serializers.RegexField(r"^\d{6}$")
