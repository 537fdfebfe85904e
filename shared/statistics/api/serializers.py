"""The shape of a statistics report, for the OpenAPI document and the JSON answer."""

from rest_framework import serializers


class MetricSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="指标代码，如 issue、renew、query、review_late")
    name = serializers.CharField(help_text="指标名称")


class ReportRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="维度取值：市的行政区划代码、单位的统一社会信用代码、证照类型代码或事项编码；"
        "空串表示与用证单位或事项无关的计数"
    )
    name = serializers.CharField(help_text="名称（未知时为空串）")
    metrics = serializers.DictField(
        child=serializers.IntegerField(), help_text="各指标的次数，指标代码见 metrics"
    )


class ReportSerializer(serializers.Serializer):
    month = serializers.CharField(help_text="统计月份（YYYY-MM，按北京时间划分）")
    by = serializers.ChoiceField(choices=["city", "agency", "type", "consumer", "matter"])
    scope = serializers.ChoiceField(
        choices=["library", "agency"],
        help_text="library：本库统计的全部数据；agency：仅调用者所在单位（签发或用证）的数据",
    )
    library_code = serializers.CharField(help_text="回答的证照库代码（省级枢纽为 410000）")
    filters = serializers.DictField(child=serializers.CharField(), help_text="生效的筛选条件")
    metrics = MetricSerializer(many=True)
    rows = ReportRowSerializer(many=True)
    totals = serializers.DictField(child=serializers.IntegerField(), help_text="各指标合计")
    rolled_up_at = serializers.DateTimeField(
        allow_null=True, help_text="计数最近一次汇总的时间（每分钟由定时任务更新）"
    )
