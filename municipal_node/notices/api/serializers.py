from rest_framework import serializers

from municipal_node.notices.models import Notice
from shared.conf.divisions import CITIES
from shared.domain.notices import STATE_LABELS, allowed_steps


class NoticeStepSerializer(serializers.Serializer):
    seq = serializers.IntegerField()
    kind = serializers.CharField()
    actor_name = serializers.CharField()
    library_code = serializers.CharField()
    text = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField()
    pending = serializers.BooleanField(
        default=False, help_text="本市已答复、尚待省级库确认（省级库的下一次状态到达时更新）"
    )


class CityNoticeSerializer(serializers.ModelSerializer):
    agency_code = serializers.CharField(
        source="agency.code", default=None, read_only=True, allow_null=True
    )
    subject_name = serializers.SerializerMethodField()
    state_label = serializers.SerializerMethodField()
    allowed_steps = serializers.SerializerMethodField(help_text="本市当前可以进行的步骤")
    steps = NoticeStepSerializer(many=True, read_only=True)

    class Meta:
        model = Notice
        fields = [
            "id",
            "rule",
            "rule_label",
            "agency_code",
            "subject_name",
            "city_code",
            "period",
            "summary",
            "findings",
            "issued_at",
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

    def get_subject_name(self, notice: Notice) -> str:
        if notice.agency is not None:
            return notice.agency.name
        return f"{CITIES.get(notice.city_code, notice.city_code)}电子证照库"

    def get_state_label(self, notice: Notice) -> str:
        return STATE_LABELS.get(notice.state, notice.state)  # type: ignore[call-overload]

    def get_allowed_steps(self, notice: Notice) -> list[str]:
        # Only the agency's step is taken here; accepting and reopening are the hub's.
        return [s.value for s in allowed_steps(state=notice.state) if s.value == "answer"]


class NoticeAnswerSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=2000, help_text="整改情况：做了什么")
