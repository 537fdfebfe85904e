from rest_framework import serializers

from shared.access.models import AccessRecord, BulkRequest, Grant, VerifyRun
from shared.access.text import purpose_check
from shared.core.errors import PermanentError
from shared.domain.errors import DomainError
from shared.domain.holder_codes import check_code_type
from shared.licenses import codec
from shared.licenses.api.serializers import LICENSE_RELATED, LicenseBaseSerializer
from shared.licenses.codec import Shown
from shared.licenses.models import License


class HolderRefSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64, help_text="持证主体代码")
    code_type = serializers.CharField(
        max_length=3, help_text="持证主体代码类型：111 公民身份号码，001 统一社会信用代码，…"
    )

    def validate_code_type(self, value: str) -> str:
        # A type outside the whitelist names no holder: 400 `holder.code_type`, as at issuing
        # (an application error, so the refusal is recorded under its own code).
        try:
            return check_code_type(value)
        except DomainError as exc:
            raise PermanentError(exc.code, exc.message, exc.detail) from exc


class ShareQuerySerializer(serializers.Serializer):
    holder = HolderRefSerializer()
    matter_code = serializers.CharField(max_length=64, help_text="办理的事项编码")
    use_cause = serializers.CharField(max_length=200, help_text="用证事由（≤200 字）")
    type_code = serializers.CharField(
        max_length=21, required=False, allow_blank=True, default="", help_text="证照类型（可选）"
    )
    scope = serializers.ChoiceField(
        choices=[
            ("auto", "本库优先，本库无结果时经省级枢纽查询"),
            ("province", "经省级枢纽查询全省"),
        ],
        required=False,
        default="auto",
        help_text="市级节点：auto（默认）本库无结果时转省级枢纽查询全省；province 直接查询全省",
    )

    def validate_use_cause(self, value: str) -> str:
        return purpose_check(value)


class SharedLicenseSerializer(LicenseBaseSerializer):
    library_code = serializers.CharField(help_text="证照来源库：市级节点代码、410000 或行业库代码")

    class Meta:
        model = License
        fields = [*codec.api_fields(codec.LICENSE, Shown.EVERYONE), *LICENSE_RELATED]
        read_only_fields = fields


class ShareQueryResultSerializer(serializers.Serializer):
    request_id = serializers.UUIDField(help_text="本次用证的记录编号（用证记录中可查）")
    library_code = serializers.CharField(help_text="应答的证照库")
    count = serializers.IntegerField()
    results = SharedLicenseSerializer(many=True)
    sector_results = serializers.ListField(
        child=serializers.DictField(),
        help_text="省级枢纽：行业电子证照库实时应答的证照（library_code 为行业库代码，不在本库存储）",
    )
    unavailable_libraries = serializers.ListField(
        child=serializers.CharField(), help_text="未能应答的行业库代码"
    )
    forwarded_to = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="仅当经省级枢纽应答时出现，为 410000（结果来自全省汇聚库）",
    )


class GrantSerializer(serializers.ModelSerializer):
    agency_code = serializers.CharField(source="agency.code")
    agency_name = serializers.CharField(source="agency.name")
    type_code = serializers.CharField(source="license_type.type_code")
    type_name = serializers.CharField(source="license_type.name")
    active = serializers.SerializerMethodField()

    class Meta:
        model = Grant
        fields = [
            "id",
            "agency_code",
            "agency_name",
            "type_code",
            "type_name",
            "matter_code",
            "tier",
            "valid_from",
            "valid_to",
            "revoked_at",
            "active",
            "created_at",
        ]
        read_only_fields = fields

    def get_active(self, obj: Grant) -> bool:
        from django.utils import timezone

        today = timezone.localdate()
        return (
            obj.revoked_at is None
            and obj.valid_from <= today
            and (obj.valid_to is None or obj.valid_to >= today)
        )


class GrantCreateSerializer(serializers.Serializer):
    agency_code = serializers.CharField(max_length=18)
    type_code = serializers.CharField(max_length=21)
    matter_code = serializers.CharField(max_length=64)
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)


class AccessRecordSerializer(serializers.ModelSerializer):
    operation_label = serializers.CharField(source="get_operation_display")
    outcome_label = serializers.CharField(source="get_outcome_display")

    class Meta:
        model = AccessRecord
        fields = [
            "id",
            "seq",
            "request_id",
            "occurred_at",
            "library_code",
            "username",
            "agency_code",
            "agency_name",
            "operation",
            "operation_label",
            "outcome",
            "outcome_label",
            "reason_code",
            "matter_code",
            "use_cause",
            "identifier",
            "type_code",
            "issuer_code",
            "source_library",
            "origin_library",
            "leaf_hash",
            "record_hash",
        ]
        read_only_fields = fields


class CheckpointSerializer(serializers.Serializer):
    library_code = serializers.CharField()
    tree_size = serializers.IntegerField()
    root_hash = serializers.CharField()
    head_hash = serializers.CharField()
    signed_at = serializers.CharField()
    key_id = serializers.CharField()
    public_key = serializers.CharField()
    signature = serializers.CharField(help_text="SM2 签名（DER，十六进制）")


class ProofSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    leaf_index = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    record_hash = serializers.CharField()
    audit_path = serializers.ListField(child=serializers.CharField())
    checkpoint = CheckpointSerializer()
    verified = serializers.BooleanField()


class VerifyRunSerializer(serializers.ModelSerializer):
    """A verification of the whole log: `state` queued → running → done (or failed);
    `checked` of `total` records so far; when done, `ok`, `tree_size` and `problems`."""

    problems = serializers.ListField(child=serializers.DictField())

    class Meta:
        model = VerifyRun
        fields = [
            "id",
            "state",
            "requested_by",
            "total",
            "checked",
            "ok",
            "tree_size",
            "problems",
            "last_error",
            "started_at",
            "finished_at",
        ]


class BulkRequestCreateSerializer(serializers.Serializer):
    type_codes = serializers.ListField(
        child=serializers.CharField(max_length=21), min_length=1, max_length=20
    )
    fields = serializers.ListField(  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: Serializer.fields stays
        child=serializers.CharField(max_length=100), min_length=1, max_length=100
    )
    period_from = serializers.DateField()
    period_to = serializers.DateField()
    matter_code = serializers.CharField(max_length=64)
    purpose = serializers.CharField(max_length=200)
    row_cap = serializers.IntegerField(min_value=1)
    format = serializers.ChoiceField(choices=BulkRequest.Format.choices, default="csv")

    def validate_purpose(self, value: str) -> str:
        return purpose_check(value, field="purpose")


class BulkDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    fields = serializers.ListField(  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: Serializer.fields stays
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=100,
        help_text=(
            "批准：只批准申请字段的一部分（不填为全部申请字段；不能为空，不能多于申请，"
            "不能含证照类型不允许的字段：400 bulk.fields_empty / bulk.field_not_requested / "
            "bulk.field_unknown）"
        ),
    )
    expires_in_days = serializers.IntegerField(min_value=1, max_value=90, required=False)


class BulkRequestSerializer(serializers.ModelSerializer):
    agency_code = serializers.CharField(source="agency.code", allow_null=True)
    issuer_code = serializers.CharField(source="issuer.code")
    requested_by = serializers.CharField(source="applicant_user")
    applicant_name = serializers.CharField()
    decided_by = serializers.CharField(source="decider_name")
    type_codes = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()

    class Meta:
        model = BulkRequest
        fields = [
            "id",
            "agency_code",
            "issuer_code",
            "requested_by",
            "applicant_name",
            "origin_library",
            "decider_library",
            "decided_by",
            "type_codes",
            "fields",
            "approved_fields",
            "period_from",
            "period_to",
            "matter_code",
            "purpose",
            "row_cap",
            "format",
            "state",
            "decision_reason",
            "decided_at",
            "expires_at",
            "rows_total",
            "rows_done",
            "progress",
            "attempts",
            "last_error",
            "file_digest",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_type_codes(self, obj: BulkRequest) -> list[str]:
        return sorted(t.type_code for t in obj.license_types.all())

    def get_progress(self, obj: BulkRequest) -> float:
        if obj.state == BulkRequest.State.READY:
            return 1.0
        return round(obj.rows_done / obj.rows_total, 4) if obj.rows_total else 0.0
