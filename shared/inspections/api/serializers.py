from rest_framework import serializers

from shared.inspections.models import Inspection, InspectionMaterial


class InspectionMaterialSerializer(serializers.ModelSerializer):
    held = serializers.SerializerMethodField(help_text="本库是否保存材料内容（汇聚副本仅有摘要）")

    class Meta:
        model = InspectionMaterial
        fields = ["index", "name", "content_type", "size", "digest", "held"]
        read_only_fields = fields

    def get_held(self, obj: InspectionMaterial) -> bool:
        return obj.content is not None


class InspectionSerializer(serializers.ModelSerializer):
    license_identifier = serializers.CharField(source="license.identifier")
    type_code = serializers.CharField(source="license_type.type_code")
    type_name = serializers.CharField(source="license_type.name")
    issuer_code = serializers.CharField(source="issuer.code")
    issuer_name = serializers.CharField(source="issuer.name")
    holder_name = serializers.CharField(source="license.holder_name")
    state_label = serializers.CharField(source="get_state_display")
    license_status = serializers.CharField(source="license.status")
    inspected_year = serializers.IntegerField(source="license.inspected_year", allow_null=True)
    submitted_by = serializers.CharField(
        source="submitted_by.username", default=None, allow_null=True
    )
    decided_by = serializers.CharField(source="decided_by.username", default=None, allow_null=True)
    materials = InspectionMaterialSerializer(many=True)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "library_code",
            "identifier",
            "license_identifier",
            "type_code",
            "type_name",
            "issuer_code",
            "issuer_name",
            "holder_name",
            "year",
            "state",
            "state_label",
            "note",
            "submitter_kind",
            "submitted_at",
            "submitted_by",
            "decided_at",
            "decided_by",
            "decision_reason",
            "late",
            "license_status",
            "inspected_year",
            "materials",
            "revision",
            "updated_at",
        ]
        read_only_fields = fields


class InspectionSubmitSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=120, help_text="证照标识（任一版本）")
    year = serializers.IntegerField(
        min_value=2000, max_value=2199, required=False, help_text="年检年度，缺省为今年"
    )
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="说明"
    )
    attachments = serializers.ListField(
        child=serializers.FileField(),
        min_length=1,
        max_length=20,
        help_text="年检材料：PDF、JPEG 或 PNG（按内容判断），至少一份",
    )


class InspectionApproveSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", help_text="审核意见"
    )


class InspectionRefuseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="不予通过的原因（必填）")
