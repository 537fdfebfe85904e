from rest_framework import serializers

from shared.reviews.models import ReviewAttachment, ReviewReminder, ReviewRequest
from shared.reviews.services import ANSWER_REASON_MAX, ANSWERS, FIELDS_MAX, REASON_MAX


class ReviewCreateSerializer(serializers.Serializer):
    identifier = serializers.CharField(max_length=120, help_text="有异议的证照（版本）标识")
    reason = serializers.CharField(
        max_length=REASON_MAX, help_text=f"申请理由（必填，不超过 {REASON_MAX} 字）"
    )
    # The API's name (DESIGN §8); it shadows `Serializer.fields` only in the class body,
    # which DRF's metaclass takes the declared field out of.
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=FIELDS_MAX,
        help_text="有异议的字段：照面信息字段名或元数据字段（number、holder_name、holder_code、"
        "holder_code_type、issue_date、valid_from、valid_to、area_code、matter_code）",
    )
    matter_code = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="证照应用单位必填：办理的事项编码（须有该证照类型和事项的用证授权）",
    )
    use_cause = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="证照应用单位必填：用证事由（不超过 200 字）",
    )


class ReviewCreateFormSerializer(ReviewCreateSerializer):
    """The same request as multipart/form-data, with files (PDF, JPEG or PNG by content)."""

    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text="附件"
    )


class ReviewAnswerSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=ANSWERS,
        help_text="confirmed 确认无误；corrected 已更正（同时变更证照）；rejected 不予更正",
    )
    reason = serializers.CharField(
        max_length=ANSWER_REASON_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="答复说明（corrected、rejected 必填）",
    )
    surface = serializers.DictField(
        required=False, help_text="仅 corrected：更正后的照面信息（整体替换）"
    )
    holder_name = serializers.CharField(
        max_length=200, required=False, help_text="仅 corrected：更正后的持证主体名称"
    )
    valid_to = serializers.DateField(
        required=False, allow_null=True, help_text="仅 corrected：更正后的有效期截止，null 为长期"
    )


class ReviewAttachmentSerializer(serializers.ModelSerializer):
    held = serializers.BooleanField(
        read_only=True, help_text="本库是否保存附件内容（省级枢纽只保存摘要）"
    )

    class Meta:
        model = ReviewAttachment
        fields = ["id", "name", "content_type", "size", "sm3", "sha256", "held", "created_at"]
        read_only_fields = fields


class ReviewReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReviewReminder
        fields = ["ordinal", "days_left", "created_at"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    type_code = serializers.CharField(source="license_type.type_code", read_only=True)
    type_name = serializers.CharField(source="license_type.name", read_only=True)
    issuer_code = serializers.CharField(source="issuer.code", read_only=True)
    issuer_name = serializers.CharField(source="issuer.name", read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    fields = serializers.ListField(child=serializers.CharField(), read_only=True)  # type: ignore[assignment]  # as above
    attachments = ReviewAttachmentSerializer(many=True, read_only=True)
    reminders = ReviewReminderSerializer(many=True, read_only=True)

    class Meta:
        model = ReviewRequest
        fields = [
            "id",
            "library_code",
            "identifier",
            "type_code",
            "type_name",
            "issuer_code",
            "issuer_name",
            "requester_kind",
            "requester_agency_code",
            "matter_code",
            "use_cause",
            "fields",
            "reason",
            "received_at",
            "deadline",
            "deadline_provisional",
            "state",
            "state_label",
            "answered_at",
            "answer_reason",
            "corrected_identifier",
            "answered_late",
            "overdue",
            "reminders_sent",
            "reminders",
            "attachments",
            "revision",
            "updated_at",
        ]
        read_only_fields = fields


class OverdueCountSerializer(serializers.Serializer):
    issuer_code = serializers.CharField()
    issuer_name = serializers.CharField()
    overdue = serializers.IntegerField(help_text="曾逾期未答复的复核申请数（含此后已答复的）")
    overdue_open = serializers.IntegerField(help_text="目前逾期且仍未答复的复核申请数")
