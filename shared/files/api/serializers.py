from rest_framework import serializers

from shared.core.api.parsers import GuardedJSONDecoder
from shared.files.models import AnnotatedCopy, LicenseFile


class ResultSerializer(serializers.Serializer):
    code = serializers.IntegerField()
    message = serializers.CharField()


class FileStatusSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=LicenseFile.State.choices)
    variant = serializers.ChoiceField(choices=LicenseFile.Variant.choices)
    attempts = serializers.IntegerField()
    last_error = serializers.CharField(allow_blank=True)
    url = serializers.CharField(allow_null=True)
    sm3 = serializers.CharField(allow_null=True)
    qr_expires_at = serializers.DateTimeField(allow_null=True)
    rendered_at = serializers.DateTimeField(allow_null=True)


class KeyFieldsSerializer(serializers.Serializer):
    identifier = serializers.CharField()
    version = serializers.IntegerField()
    type_code = serializers.CharField()
    type_name = serializers.CharField()
    number = serializers.CharField()
    holder_name = serializers.CharField()
    holder_code_masked = serializers.CharField()
    issuer_code = serializers.CharField()
    issuer_name = serializers.CharField()
    issue_date = serializers.DateField()
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(allow_null=True)
    status = serializers.CharField()
    status_label = serializers.CharField()
    current_identifier = serializers.CharField()


class PublicVerifySerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[
            "valid",
            "pending",
            "suspended",
            "revoked",
            "annulled",
            "cancelled",
            "expired",
            "superseded",
            "qr_expired",
            "forged",
            "not_found",
            "ended",
            "status_unknown",
        ]
    )
    label = serializers.CharField()  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: Field.label stays
    info_result = ResultSerializer()
    license = KeyFieldsSerializer(allow_null=True)
    qr_expires_at = serializers.DateTimeField(allow_null=True)
    token_error = serializers.CharField(allow_blank=True)
    signed_by_library = serializers.CharField(allow_blank=True, help_text="签发二维码的证照库")
    remote = serializers.DictField(
        allow_null=True, help_text="本库未持有的外地证照：令牌内容与其状态列表给出的状态"
    )


class PurposeSerializer(serializers.Serializer):
    matter_code = serializers.CharField(max_length=64, help_text="事项编码")
    use_cause = serializers.CharField(max_length=200, help_text="用证事由（不超过200字）")


class ComparedFieldsSerializer(serializers.Serializer):
    """比对：要与库中信息核对的字段（只回答是否一致，不回显库中的值）。"""

    number = serializers.CharField(max_length=64, required=False)
    holder_name = serializers.CharField(max_length=200, required=False)
    holder_code = serializers.CharField(max_length=64, required=False)
    holder_code_type = serializers.CharField(max_length=3, required=False)
    valid_from = serializers.DateField(required=False)
    valid_to = serializers.DateField(required=False, allow_null=True)
    surface = serializers.DictField(required=False)


class ShareVerifySerializer(PurposeSerializer):
    identifier = serializers.CharField(max_length=120, required=False, allow_blank=True)
    token = serializers.CharField(
        max_length=4000, required=False, allow_blank=True, help_text="二维码中的令牌或网址"
    )
    type_code = serializers.CharField(max_length=21, required=False, allow_blank=True)
    number = serializers.CharField(max_length=64, required=False, allow_blank=True)
    holder_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    fields = ComparedFieldsSerializer(required=False)  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: Serializer.fields stays
    scope = serializers.ChoiceField(
        choices=[("auto", "本库优先"), ("province", "经省级枢纽验证")],
        required=False,
        default="auto",
        help_text="市级节点：auto（默认）本库未持有该证照时转省级枢纽验证；province 直接经枢纽验证",
    )


class ShareVerifyResultSerializer(serializers.Serializer):
    info_result = ResultSerializer()
    outcome = serializers.CharField()
    license = KeyFieldsSerializer(allow_null=True)
    mismatched = serializers.ListField(child=serializers.CharField())
    forwarded_to = serializers.CharField(
        required=False, help_text="经省级枢纽验证时为 410000（市级节点未持有该证照）"
    )


class VerifyFileSerializer(PurposeSerializer):
    file = serializers.FileField(help_text="待验证的 PDF 或 OFD 文件")


class FileResultSerializer(serializers.Serializer):
    file_result = ResultSerializer()
    info_result = ResultSerializer()
    reason = serializers.CharField()
    identifier = serializers.CharField(allow_blank=True)
    signer = serializers.CharField(allow_blank=True)
    signing_time = serializers.DateTimeField(allow_null=True)
    timestamped = serializers.BooleanField()
    seal_note = serializers.CharField(allow_blank=True, help_text="印章证书吊销说明")
    license = KeyFieldsSerializer(allow_null=True)


class CopyCreateSerializer(PurposeSerializer):
    identifier = serializers.CharField(max_length=120)
    days = serializers.IntegerField(
        min_value=1, max_value=90, required=False, help_text="可下载天数，默认 30 天"
    )


class CopySerializer(serializers.ModelSerializer):
    agency_code = serializers.CharField(source="agency.code")
    created_by = serializers.CharField(source="created_by.username")
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = AnnotatedCopy
        fields = [
            "id",
            "identifier",
            "agency_code",
            "created_by",
            "matter_code",
            "use_cause",
            "expires_at",
            "size",
            "sm3",
            "download_url",
            "created_at",
        ]

    def get_download_url(self, obj: AnnotatedCopy) -> str:
        return f"/api/v1/share/copies/{obj.pk}/file.pdf"


class QrTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.CharField()
    issued_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class LicenseFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = LicenseFile
        fields = [
            "id",
            "identifier",
            "version",
            "variant",
            "state",
            "attempts",
            "last_error",
            "size",
            "sm3",
            "timestamped",
            "qr_expires_at",
            "created_at",
            "updated_at",
            "rendered_at",
        ]


class LegacyIssueSerializer(serializers.Serializer):
    scan = serializers.FileField(help_text="纸质证照扫描件：PNG、JPEG 或 PDF")
    metadata = serializers.JSONField(
        binary=True,
        decoder=GuardedJSONDecoder,  # the caller's JSON: depth, Unicode, 64-bit integers
        help_text="与签发接口相同的 JSON（type_code、number、holder、valid_from、valid_to…）",
    )
