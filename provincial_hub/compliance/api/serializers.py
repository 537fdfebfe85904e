import json
from typing import Any

from rest_framework import serializers

from provincial_hub.compliance.models import EvaluationRun, NoticeStep, RectificationNotice
from provincial_hub.compliance.selectors import subject_name
from shared.conf.divisions import CITIES
from shared.domain.notices import RULE_LABELS, STATE_LABELS, STEP_LABELS, Rule, allowed_steps

MAX_FINDINGS = 20_000  # characters of JSON: findings travel in every copy of the notice


class NoticeStepSerializer(serializers.ModelSerializer):
    kind_label = serializers.SerializerMethodField()

    class Meta:
        model = NoticeStep
        fields = ["seq", "kind", "kind_label", "actor_name", "library_code", "text", "at"]

    def get_kind_label(self, step: NoticeStep) -> str:
        return STEP_LABELS.get(step.kind, step.kind)  # type: ignore[call-overload]


class NoticeSerializer(serializers.ModelSerializer):
    rule_label = serializers.SerializerMethodField()
    state_label = serializers.SerializerMethodField()
    agency_code = serializers.CharField(
        source="agency.code", default=None, read_only=True, allow_null=True
    )
    subject_name = serializers.SerializerMethodField()
    issued_by = serializers.CharField(
        source="issued_by.username", default=None, read_only=True, allow_null=True
    )
    allowed_steps = serializers.SerializerMethodField(help_text="当前状态下可以进行的步骤")
    steps = NoticeStepSerializer(many=True, read_only=True)

    class Meta:
        model = RectificationNotice
        fields = [
            "id",
            "rule",
            "rule_label",
            "agency_code",
            "subject_name",
            "city_code",
            "period",
            "automatic",
            "summary",
            "findings",
            "issued_at",
            "issued_by",
            "deadline",
            "deadline_provisional",
            "state",
            "state_label",
            "allowed_steps",
            "answered_at",
            "closed_at",
            "escalated_at",
            "revision",
            "steps",
        ]

    def get_rule_label(self, notice: RectificationNotice) -> str:
        return RULE_LABELS.get(notice.rule, notice.rule)  # type: ignore[call-overload]

    def get_state_label(self, notice: RectificationNotice) -> str:
        return STATE_LABELS.get(notice.state, notice.state)  # type: ignore[call-overload]

    def get_subject_name(self, notice: RectificationNotice) -> str:
        return subject_name(notice)

    def get_allowed_steps(self, notice: RectificationNotice) -> list[str]:
        return [step.value for step in allowed_steps(state=notice.state)]


class NoticeIssueSerializer(serializers.Serializer):
    rule = serializers.ChoiceField(choices=[r.value for r in Rule], default=Rule.manual.value)
    agency_code = serializers.CharField(max_length=18, required=False, allow_blank=True)
    city_code = serializers.ChoiceField(
        choices=list(CITIES), required=False, help_text="无整改单位时，整改对象为该市的证照库节点"
    )
    summary = serializers.CharField(max_length=500)
    findings = serializers.DictField(
        required=False, default=dict, help_text="考核发现（JSON 对象，下达至被通知单位，不公开）"
    )

    def validate_findings(self, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False)) > MAX_FINDINGS:
            raise serializers.ValidationError(f"考核发现不能超过 {MAX_FINDINGS} 个字符")
        return value


class NoticeDecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="验收意见或退回理由")


class NoticeAnswerSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=2000, help_text="整改情况：做了什么")


class CriticismSerializer(serializers.Serializer):
    """What the public sees of a notice escalated to public criticism: no internal findings."""

    id = serializers.UUIDField()
    subject_name = serializers.CharField(help_text="被通报单位")
    city = serializers.CharField()
    rule = serializers.CharField()
    rule_label = serializers.CharField()
    summary = serializers.CharField()
    issued_on = serializers.DateField()
    deadline = serializers.DateField()
    escalated_on = serializers.DateField()
    rectified = serializers.BooleanField(help_text="通报后是否已整改并经验收")


class EvaluationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = EvaluationRun
        fields = [
            "id",
            "day",
            "trigger",
            "started_at",
            "finished_at",
            "breaches",
            "notices_created",
            "by_rule",
        ]


class TimelinessRowSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField(required=False)
    arrivals = serializers.IntegerField()
    late = serializers.IntegerField()
    late_ratio = serializers.FloatField()


class TimelinessSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    cities = TimelinessRowSerializer(many=True)
    issuers = TimelinessRowSerializer(many=True)
