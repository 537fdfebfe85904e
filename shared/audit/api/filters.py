"""Filters of the audit list and its export: what, on what, by whom, between when."""

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.utils import timezone

from shared.audit.models import AuditEntry


class MomentField(forms.CharField):
    """An ISO 8601 date or date-time; a date means its midnight and a time without an offset
    is Beijing time (TIME_ZONE). Compared in UTC: PostgreSQL refuses offsets past ±15:59."""

    def clean(self, value: Any) -> datetime | None:
        text = super().clean(value)
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text)
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment)
            return moment.astimezone(UTC)
        except (ValueError, OverflowError) as exc:
            raise forms.ValidationError(
                "时间格式应为 ISO 8601 日期或日期时间，如 2026-12-01 或 2026-12-01T08:00:00+08:00",
                code="invalid",
            ) from exc


class MomentFilter(django_filters.Filter):
    field_class = MomentField


class TextFilter(django_filters.CharFilter):
    """Exact text; a value no row can hold (NUL) simply matches nothing."""

    def filter(self, qs: Any, value: Any) -> Any:
        if value and "\x00" in value:
            return qs.none()
        return super().filter(qs, value)


class AuditEntryFilterSet(django_filters.FilterSet):
    action = TextFilter(help_text="操作代码，如 catalog.type.update")
    action_prefix = TextFilter(
        field_name="action", lookup_expr="startswith", help_text="操作代码前缀，如 catalog."
    )
    target_type = TextFilter(help_text="对象类型，如 agency、user、catalog.type")
    target_id = TextFilter(help_text="对象标识")
    actor = TextFilter(field_name="username", help_text="操作人用户名")
    since = MomentFilter(field_name="occurred_at", lookup_expr="gte", help_text="起始时间（含）")
    until = MomentFilter(field_name="occurred_at", lookup_expr="lt", help_text="截止时间（不含）")

    class Meta:
        model = AuditEntry
        fields = ["action", "action_prefix", "target_type", "target_id", "actor", "since", "until"]
