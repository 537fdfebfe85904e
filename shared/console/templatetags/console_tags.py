"""Template filters of the console."""

from typing import Any

from django import template

register = template.Library()


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    """`mapping[key]` or "" (field errors and values by a field name held in a variable)."""
    if isinstance(mapping, dict) or hasattr(mapping, "get"):
        return mapping.get(key, "")
    return ""


@register.filter
def duration(seconds: Any) -> str:
    """Seconds as people read a lag: 秒, 分钟, 小时, 天."""
    if seconds is None:
        return "—"
    value = float(seconds)
    if value < 60:
        return f"{value:.1f} 秒"
    if value < 3600:
        return f"{value / 60:.1f} 分钟"
    if value < 86400:
        return f"{value / 3600:.1f} 小时"
    return f"{value / 86400:.1f} 天"


@register.filter
def bulk_field(name: str) -> str:
    """A bulk-analysis field's Chinese name (证照标识, 经营项目（照面）)."""
    from shared.access.bulk_fields import field_label

    return field_label(str(name))
