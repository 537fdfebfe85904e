from rest_framework import serializers

from shared.webhooks.models import DeliveryAttempt, Signing, Subscription, WebhookEvent


class SubscriptionCreateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=120, help_text="证照标识（任一版本）")
    matter_code = serializers.CharField(max_length=64, help_text="办理的事项编码（须有用证授权）")
    use_cause = serializers.CharField(max_length=200, help_text="用证事由（≤200 字）")
    target_url = serializers.CharField(max_length=500, help_text="接收地址（http/https）")
    signing = serializers.ChoiceField(
        choices=Signing.choices, default=Signing.HMAC_SHA256, help_text="签名方式"
    )


class SubscriptionSerializer(serializers.ModelSerializer):
    identifier = serializers.SerializerMethodField(help_text="证照当前标识")
    agency_code = serializers.CharField(source="agency.code")

    class Meta:
        model = Subscription
        fields = ["id", "agency_code", "identifier", "matter_code", "target_url", "signing"]
        fields += ["created_at"]
        read_only_fields = fields

    def get_identifier(self, sub: Subscription) -> str:
        return sub.license.identifier if sub.license else sub.identifier


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        help_text="HMAC 共享密钥：只在创建时返回一次，请妥善保存（sm2-sm3 为空：用本库公钥验签）"
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["number", "started_at", "status_code", "error", "duration_ms", "succeeded"]
        read_only_fields = fields


class WebhookEventSerializer(serializers.ModelSerializer):
    subscription_id = serializers.IntegerField()
    deliveries = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookEvent
        fields = ["event_id", "subscription_id", "type", "payload", "state", "attempts"]
        fields += ["next_attempt_at", "last_error", "delivered_at", "created_at", "deliveries"]
        read_only_fields = fields


class RetrySerializer(serializers.Serializer):
    event_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, help_text="要重试的事件；省略则重试全部死信"
    )


class SigningKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField(help_text="SM2-SM3")
    key_id = serializers.CharField(help_text="与投递头 X-Elicense-Key-Id 对应")
    public_key = serializers.CharField(help_text="SM2 公钥（SPKI PEM）")
