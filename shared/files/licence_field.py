"""The files app fills in a licence's `file` field (`shared.licenses.files`): its value, and
its schema in OpenAPI (a nullable `FileStatus`, as when the licence serializer named it)."""

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

from shared.files.api.serializers import FileStatusSerializer
from shared.files.selectors import file_status
from shared.licenses.files import license_file_status_register


class LicenseFileFieldSchema(OpenApiSerializerFieldExtension):
    target_class = "shared.licenses.files.LicenseFileField"

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field = FileStatusSerializer(
            allow_null=True, read_only=True, help_text=self.target.help_text
        )
        return auto_schema._map_serializer_field(field, direction)


def register() -> None:
    license_file_status_register(file_status)
