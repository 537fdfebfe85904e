from rest_framework import serializers

from shared.audit.models import AuditEntry


class AuditEntrySerializer(serializers.ModelSerializer):
    before = serializers.JSONField(allow_null=True, help_text="修改前的字段（不含任何密钥）")
    after = serializers.JSONField(allow_null=True, help_text="修改后的字段（不含任何密钥）")
    detail = serializers.JSONField(help_text="说明：via（command/admin）、changed（改动的字段）等")

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "occurred_at",
            "username",
            "agency_code",
            "action",
            "target_type",
            "target_id",
            "before",
            "after",
            "detail",
            "library_code",
            "request_id",
        ]
