import functools
from typing import Any

from rest_framework import serializers

from shared.domain.holder_codes import CODE_TYPES
from shared.domain.status import ACTION_LABELS, STATUS_LABELS, Status, allowed_actions
from shared.licenses import codec
from shared.licenses.files import LicenseFileField
from shared.licenses.models import Batch, BatchItem, License, LicenseEvent, LicenseVersion, Mode


class HolderSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=200, help_text="持证主体名称（不得含控制字符或不可见字符）"
    )
    code = serializers.CharField(max_length=64)
    code_type = serializers.CharField(
        max_length=3,
        min_length=3,
        help_text="持证主体代码类型："
        + "，".join(f"{key} {name}" for key, name in CODE_TYPES.items())
        + "；其他类型一律拒绝（holder.code_type）",
    )


class LicenseIssueSerializer(serializers.Serializer):
    type_code = serializers.CharField(max_length=21, min_length=21)
    number = serializers.CharField(max_length=64, help_text="证照编号（照面打印的编号）")
    holder = HolderSerializer()
    valid_from = serializers.DateField(help_text="有效期起始日期（1949-10-01 至 2199-12-31）")
    valid_to = serializers.DateField(
        allow_null=True, help_text="为空表示长期有效；不晚于 2199-12-31，不早于起始日期"
    )
    mode = serializers.ChoiceField(choices=Mode.choices, default=Mode.ONLINE)
    case_completed_at = serializers.DateTimeField(help_text="办结时间（1、5 个工作日时限的起点）")
    matter_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    surface = serializers.DictField(required=False, default=dict, help_text="照面信息")


class LicenseBaseSerializer(serializers.ModelSerializer):
    """The fields every view of a licence shares (the issuer's, a consumer's share answer)."""

    type_code = serializers.CharField(source="license_type.type_code")
    type_name = serializers.CharField(source="license_type.name")
    issuer_code = serializers.CharField(source="issuer.code")
    issuer_name = serializers.CharField(source="issuer.name")
    status_label = serializers.SerializerMethodField()
    holder = serializers.SerializerMethodField()

    def get_status_label(self, obj: License) -> str:
        return STATUS_LABELS[Status(obj.status)]

    def get_holder(self, obj: License) -> dict[str, str]:
        return codec.holder(obj)


# Fields of a licence that are not its own columns (`shared.licenses.codec`).
LICENSE_RELATED = ["type_code", "type_name", "issuer_code", "issuer_name", "status_label"]


class LicenseSerializer(LicenseBaseSerializer):
    allowed_actions = serializers.SerializerMethodField()
    file = LicenseFileField(help_text="签章文件状态（生成中/已生成/失败）")

    class Meta:
        model = License
        fields = [
            *codec.api_fields(codec.LICENSE),
            *LICENSE_RELATED,
            "allowed_actions",
            "file",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_allowed_actions(self, obj: License) -> list[str]:
        return [a.value for a in allowed_actions(status=Status(obj.status), pledged=obj.pledged)]


@functools.cache
def _license_out() -> LicenseSerializer:
    return LicenseSerializer()


def license_data(lic: License) -> dict[str, Any]:
    """`LicenseSerializer(lic).data` without building the serializer's fields again: a
    ModelSerializer builds its thirty-odd fields for every instance (≈ 1.5 ms, a tenth of the
    issue call). They hold no state of a licence, so one serializer per process serves all."""
    return _license_out().to_representation(lic)


class LicenseVersionSerializer(serializers.ModelSerializer):
    holder = serializers.SerializerMethodField()
    current = serializers.SerializerMethodField()

    class Meta:
        model = LicenseVersion
        fields = [*codec.api_fields(codec.VERSION), "current"]

    def get_holder(self, obj: LicenseVersion) -> dict[str, str]:
        return codec.holder(obj)

    def get_current(self, obj: LicenseVersion) -> bool:
        return obj.version == obj.license.version


class LicenseEventSerializer(serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField()
    actor = serializers.CharField(source="actor.username", default=None)

    class Meta:
        model = LicenseEvent
        fields = [*codec.api_fields(codec.EVENT), "action_label"]

    def get_action_label(self, obj: LicenseEvent) -> str:
        from shared.domain.status import Action

        return ACTION_LABELS[Action(obj.action)]


class LicenseActionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    expected_version = serializers.IntegerField(
        min_value=1, required=False, help_text="乐观并发控制：与当前版本不一致时返回 409"
    )
    valid_from = serializers.DateField(required=False, help_text="延续：新有效期起始")
    valid_to = serializers.DateField(
        required=False, allow_null=True, help_text="延续/变更：新有效期截止，null 表示长期"
    )
    surface = serializers.DictField(required=False, help_text="变更/延续：新的照面信息（整体替换）")
    holder_name = serializers.CharField(
        max_length=200, required=False, help_text="变更：持证主体名称"
    )
    pledgee = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    until = serializers.DateField(required=False, help_text="质押期限")


class LicenseActionResultSerializer(serializers.Serializer):
    license = LicenseSerializer()
    event = LicenseEventSerializer()


class BatchCreateSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(
        choices=[Mode.BULK, Mode.OFFLINE, Mode.LEGACY], default=Mode.BULK
    )
    items = serializers.ListField(
        child=LicenseIssueSerializer(), min_length=1, help_text="每条记录与签发接口的请求体相同"
    )


class BatchItemErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = BatchItem
        fields = ["index", "error_code", "error_message"]


class BatchSerializer(serializers.ModelSerializer):
    issuer_code = serializers.CharField(source="issuer.code")
    progress = serializers.SerializerMethodField()
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]  # DRF's metaclass takes declared fields off the class: Serializer.errors stays
    identifiers = serializers.SerializerMethodField()

    class Meta:
        model = Batch
        fields = [
            "id",
            "issuer_code",
            "mode",
            "state",
            "total",
            "processed",
            "succeeded",
            "failed",
            "progress",
            "errors",
            "identifiers",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_progress(self, obj: Batch) -> float:
        return round(obj.processed / obj.total, 4) if obj.total else 1.0

    def get_errors(self, obj: Batch) -> list[dict]:
        failed = obj.items.filter(state=BatchItem.State.FAILED).order_by("index")[:100]
        return BatchItemErrorSerializer(failed, many=True).data  # type: ignore[return-value]  # many=True: a list (the stubs say a dict)

    def get_identifiers(self, obj: Batch) -> list[str | None]:
        if not self.context.get("detail"):
            return []
        return list(
            obj.items.order_by("index").values_list("license__identifier", flat=True)[:1000]
        )
