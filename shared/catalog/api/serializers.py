from rest_framework import serializers

from shared.catalog.models import LicenseType


class LicenseTypeSerializer(serializers.ModelSerializer):
    issuer_code = serializers.CharField(source="issuer.code", read_only=True)
    issuer_name = serializers.CharField(source="issuer.name", read_only=True)

    class Meta:
        model = LicenseType
        fields = [
            "type_code",
            "name",
            "state",
            "holder_category",
            "requires_review",
            "surface_schema",
            "definer_name",
            "definer_code",
            "definer_level",
            "issuer_code",
            "issuer_name",
            "issuer_level",
            "validity_min_days",
            "validity_max_days",
            "related_matters",
            "template",
            "qr_validity_days",
            "annual_inspection",
            "inspection_window_start",
            "inspection_window_end",
            "description",
            "published_at",
            "retired_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MatterSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)


class _TypeFields(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    definer_name = serializers.CharField(max_length=200)
    definer_code = serializers.CharField(max_length=18, min_length=18, required=False)
    definer_level = serializers.ChoiceField(choices=LicenseType.Level.choices)
    issuer_level = serializers.ChoiceField(choices=LicenseType.Level.choices)
    holder_category = serializers.ChoiceField(choices=LicenseType.HolderCategory.choices)
    validity_min_days = serializers.IntegerField(
        min_value=1, max_value=36500, required=False, allow_null=True
    )
    validity_max_days = serializers.IntegerField(
        min_value=1, max_value=36500, required=False, allow_null=True
    )
    related_matters = MatterSerializer(many=True, required=False)
    surface_schema = serializers.JSONField(required=False)
    template = serializers.JSONField(required=False)
    qr_validity_days = serializers.IntegerField(min_value=1, max_value=3650, required=False)
    annual_inspection = serializers.BooleanField(required=False)
    inspection_window_start = serializers.CharField(
        max_length=5,
        required=False,
        allow_blank=True,
        help_text="年检开始日期（MM-DD，如 01-01）；需要年检时必填，发布后不可修改",
    )
    inspection_window_end = serializers.CharField(
        max_length=5,
        required=False,
        allow_blank=True,
        help_text="年检截止日期（MM-DD，如 06-30，含当日）；须晚于开始日期，不跨年",
    )
    requires_review = serializers.BooleanField(required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class LicenseTypeCreateSerializer(_TypeFields):
    type_code = serializers.CharField(max_length=21, min_length=21)


class LicenseTypeUpdateSerializer(_TypeFields):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
