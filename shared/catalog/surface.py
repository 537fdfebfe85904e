"""Surface fields (照面信息) against their type's JSON Schema, with Chinese messages."""

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from shared.core.errors import PermanentError

_TYPE_NAMES = {
    "string": "字符串",
    "integer": "整数",
    "number": "数字",
    "boolean": "布尔值",
    "object": "对象",
    "array": "数组",
    "null": "空值",
}


def check_schema(schema: Any) -> None:
    """A surface schema must be a valid JSON Schema describing an object."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise PermanentError(
            "catalog.surface_schema", "照面信息结构必须是 type 为 object 的 JSON Schema"
        )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise PermanentError(
            "catalog.surface_schema",
            f"照面信息结构不是有效的 JSON Schema：{exc.message}",
            {"path": list(exc.path)},
        ) from exc


def _describe(error: Any) -> str:
    field = ".".join(str(p) for p in error.absolute_path) or "（根）"
    validator, expected = error.validator, error.validator_value
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return f"缺少必填字段 {missing}"
    if validator == "type":
        names: list[str] = expected if isinstance(expected, list) else [expected]
        return f"字段 {field} 的类型应为{'或'.join(_TYPE_NAMES.get(n, n) for n in names)}"
    if validator == "additionalProperties":
        return f"字段 {field} 含有未定义的字段"
    if validator == "enum":
        return f"字段 {field} 的取值应为 {expected} 之一"
    if validator in {"maxLength", "minLength"}:
        word = "最多" if validator == "maxLength" else "至少"
        return f"字段 {field} 长度{word} {expected} 个字符"
    if validator in {"maximum", "minimum"}:
        word = "不能大于" if validator == "maximum" else "不能小于"
        return f"字段 {field} {word} {expected}"
    if validator == "pattern":
        return f"字段 {field} 格式不符合要求"
    if validator == "format":
        return f"字段 {field} 不是有效的 {expected} 格式"
    return f"字段 {field} 不符合要求（{validator}）"


def validate_surface(schema: dict[str, Any], surface: Any) -> None:
    """Raise `surface.invalid` naming each field that does not match the type's schema."""
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(surface), key=lambda e: list(e.absolute_path))
    if errors:
        problems = [
            {"field": ".".join(str(p) for p in e.absolute_path), "message": _describe(e)}
            for e in errors
        ]
        raise PermanentError(
            "surface.invalid",
            "照面信息不符合证照类型的结构：" + "；".join(p["message"] for p in problems[:5]),
            {"errors": problems},
        )
