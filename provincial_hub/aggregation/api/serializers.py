from rest_framework import serializers

from provincial_hub.aggregation.models import RemoteFile
from shared.access.api.serializers import ShareQuerySerializer
from shared.files.api.serializers import ShareVerifySerializer


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


class ForwardedAgencySerializer(serializers.Serializer):
    code = serializers.CharField(max_length=18)
    name = serializers.CharField(max_length=200)
    level = serializers.CharField(max_length=10, allow_blank=True, required=False, default="")
    area_code = serializers.CharField(max_length=6)
    is_consumer = serializers.BooleanField()


class ForwardedUserSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    ref = serializers.IntegerField(allow_null=True, required=False, default=None)


class ForwardedCallerSerializer(serializers.Serializer):
    """Who asks, as the forwarding node vouches for it (shared.access.federated)."""

    agency = ForwardedAgencySerializer()
    user = ForwardedUserSerializer()
    city_grants = serializers.ListField(
        child=serializers.CharField(max_length=21), max_length=200, required=False, default=list
    )


class ForwardedQuerySerializer(ForwardedCallerSerializer, ShareQuerySerializer):
    pass


class ForwardedVerifySerializer(ForwardedCallerSerializer, ShareVerifySerializer):
    pass
