from rest_framework import serializers

from provincial_hub.aggregation.models import RemoteFile


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
