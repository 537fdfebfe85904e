"""The bulk export as an HTTP attachment, for the API and the console alike."""

from pathlib import Path

from django.http import FileResponse

from shared.access.models import BulkRequest


def bulk_file_response(request: BulkRequest, path: Path) -> FileResponse:
    """Streamed from disk: an export of BULK_MAX_ROWS rows is tens of MB, which a web process
    should not hold once per download."""
    kind = "text/csv" if request.format == BulkRequest.Format.CSV else "application/jsonl"
    return FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it once sent
        content_type=f"{kind}; charset=utf-8",
        as_attachment=True,
        filename=f"bulk-{request.pk}.{request.format}",
    )
