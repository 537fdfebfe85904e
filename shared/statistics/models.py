"""Supervision statistics (art. 27, 31): monthly counters kept by a rollup, never by scanning.

`Counter` holds one number per month and dimension; the rollup (`shared.statistics.rollup`)
adds to it what happened since its `Watermark`, in the same transaction that moves the
watermark, so a crash leaves both where they were. `Fact` remembers which facts of a mutable
record (a review request, an inspection) were counted already, so re-reading one never counts
it twice.
"""

from django.db import models


class Counter(models.Model):
    """How many times `metric` happened in `month` (the first day of the month, Asia/Shanghai)
    for licences of `library_code` issued by `agency_code` under `type_code`; the access and
    review metrics also name the consumer agency and the matter (blank for the others)."""

    month = models.DateField("月份")
    library_code = models.CharField("证照库（市）", max_length=6)
    agency_code = models.CharField("签发单位代码", max_length=18)
    type_code = models.CharField("证照类型代码", max_length=21)
    metric = models.CharField("指标", max_length=32)
    consumer_code = models.CharField("用证单位代码", max_length=18, blank=True, default="")
    matter_code = models.CharField("事项编码", max_length=64, blank=True, default="")
    count = models.BigIntegerField("次数", default=0)

    class Meta:
        verbose_name = "统计计数"
        verbose_name_plural = "统计计数"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "month",
                    "library_code",
                    "agency_code",
                    "type_code",
                    "metric",
                    "consumer_code",
                    "matter_code",
                ],
                name="statistics_counter_dimensions",
            ),
        ]
        # A month's report groups the month's rows by one dimension and the metric: each
        # `by` has an index in that order carrying the count, so PostgreSQL answers from the
        # index alone, already grouped (SQLite, the demo's, ignores INCLUDE). The unique index
        # serves a city filter, these the agency and type filters.
        indexes = [
            models.Index(
                fields=["month", column, "metric"], include=["count"], name=f"statistics_by_{by}"
            )
            for by, column in (
                ("city", "library_code"),
                ("agency", "agency_code"),
                ("type", "type_code"),
                ("consumer", "consumer_code"),
                ("matter", "matter_code"),
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.month:%Y-%m} {self.library_code} {self.agency_code} {self.metric}={self.count}"
        )


class Watermark(models.Model):
    """How far the rollup has read one source.

    Append-only sources are read by a growing key (`last_key`: a licence event's id, an access
    record's chain seq, an arrival's id). A key that the rollup stepped over because its row
    was not committed yet is kept in `gaps` (`[first, last, first seen (epoch seconds)]`) and
    looked for again on every run until it turns up or is old enough to be a rolled-back
    insert. Mutable sources (review requests, inspections) are read by `(last_time, last_id)`.
    """

    source = models.CharField("数据来源", max_length=32, unique=True)
    last_key = models.BigIntegerField("已读到的序号", default=0)
    last_time = models.DateTimeField("已读到的更新时间", null=True, blank=True)
    last_id = models.CharField("同一时间已读到的记录", max_length=64, blank=True)
    gaps = models.JSONField("待补读的序号区间", default=list, blank=True)
    rows_read = models.BigIntegerField("累计读取记录数", default=0)
    run_at = models.DateTimeField("最近一次汇总", null=True, blank=True)

    class Meta:
        verbose_name = "统计水位"
        verbose_name_plural = "统计水位"
        ordering = ["source"]

    def __str__(self) -> str:
        return f"{self.source} @ {self.last_key or self.last_time}"


class Fact(models.Model):
    """The facts of one mutable record already counted, as a bit mask (`shared.statistics.
    sources`): received, answered, overdue… A record read again adds only its new facts."""

    source = models.CharField("数据来源", max_length=32)
    object_id = models.CharField("记录", max_length=64)
    mask = models.PositiveIntegerField("已计入的事实", default=0)

    class Meta:
        verbose_name = "已计入的事实"
        verbose_name_plural = "已计入的事实"
        constraints = [
            models.UniqueConstraint(fields=["source", "object_id"], name="statistics_fact_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.object_id}={self.mask:b}"
