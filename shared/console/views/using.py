"""The application agency's workspace: the purpose-bound query, verifying a file by upload
and a QR code by its URL. Each calls the same service as the API (`share_query`,
`file_verify` + `authorize_share`, `share_target` + `authorize_share`); every use and every
refusal is an access record, as over the API."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render

from shared.access.models import AccessRecord
from shared.access.selectors import grant_list
from shared.access.services import refusal_record, share_query
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.console import roles
from shared.console.helpers import Refusal
from shared.core.errors import ApplicationError, PermanentError
from shared.domain.holder_codes import CODE_TYPES
from shared.files import verification
from shared.files.access import authorize_share

Operation = AccessRecord.Operation


def _purpose(request: AuthenticatedHttpRequest) -> dict[str, str]:
    return {
        "matter_code": request.POST.get("matter_code", "").strip()[:64],
        "use_cause": request.POST.get("use_cause", "")[:1000],
    }


def _matters(request: AuthenticatedHttpRequest) -> list[dict[str, str]]:
    """The matters the agency holds live grants for, each with the types it covers."""
    found: dict[str, list[str]] = {}
    for grant in grant_list(user=request.user).filter(revoked_at__isnull=True):
        found.setdefault(grant.matter_code, []).append(grant.license_type.name)
    return [{"code": code, "types": "、".join(names)} for code, names in sorted(found.items())]


def _recorded(
    request: AuthenticatedHttpRequest, operation: str, call: Callable[[], Any], **logged: str
) -> dict[str, Any]:
    """Run a purpose-bound call: its answer, or the refusal's message and status. A refusal
    the service did not record itself is recorded here, as the API's RecordedRefusalsMixin
    does."""
    try:
        return {"answer": call(), "status": 200}
    except Refusal as exc:
        error = exc if isinstance(exc, ApplicationError) else PermanentError(exc.code, exc.message)
        if not getattr(error, "access_recorded", False):
            refusal_record(
                user=request.user,
                operation=operation,
                error=error,
                matter_code=logged.get("matter_code", ""),
                use_cause=logged.get("use_cause", ""),
                holder_code=logged.get("holder_code", ""),
                holder_code_type=logged.get("holder_code_type", ""),
            )
        status = exc.status_code if isinstance(exc, ApplicationError) else 400
        return {"error": exc.message, "status": status}


@roles.console_view(roles.consumer)
def query(request: AuthenticatedHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"matters": _matters(request), "code_types": CODE_TYPES.items()}
    if request.method == "POST":
        purpose = _purpose(request)
        holder = {
            "holder_code": request.POST.get("holder_code", "").strip()[:64],
            "holder_code_type": request.POST.get("holder_code_type", "")[:3],
        }
        context |= _recorded(
            request,
            Operation.QUERY,
            lambda: share_query(user=request.user, **holder, **purpose),
            **holder,
            **purpose,
        )
        context["form"] = request.POST
    return render(request, "console/using/query.html", context, status=context.get("status", 200))


@roles.console_view(roles.consumer)
def verify_file(request: AuthenticatedHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"matters": _matters(request)}
    if request.method == "POST":
        purpose = _purpose(request)
        upload = request.FILES.get("file")

        def check() -> dict[str, Any]:
            if upload is None:
                raise PermanentError("file.required", "请选择要验证的 PDF 或 OFD 文件")
            if upload.size is not None and upload.size > settings.FILES_UPLOAD_MAX_BYTES:
                raise PermanentError("file.too_large", "文件过大")
            result = verification.file_verify(upload.read())
            shown = authorize_share(
                user=request.user,
                license=result.version.license if result.version else None,
                operation="verify_file",
                **purpose,
            )
            version = result.version if shown is not None else None  # outside the grants
            info = result.info_code if result.version is None or version is not None else 5
            shown_fields = version is not None and result.check.code == 0
            return {
                "file_result": {"code": result.check.code, "message": result.check.message},
                "info_result": verification.info_result(info),
                "check": result.check,
                "license": verification.key_fields(version) if version and shown_fields else None,
            }

        context |= _recorded(request, Operation.VERIFY, check, **purpose)
        context["form"] = request.POST
    return render(
        request, "console/using/verify_file.html", context, status=context.get("status", 200)
    )


@roles.console_view(roles.consumer)
def verify_qr(request: AuthenticatedHttpRequest) -> HttpResponse:
    context: dict[str, Any] = {"matters": _matters(request)}
    if request.method == "POST":
        purpose = _purpose(request)
        text = request.POST.get("url", "").strip()[:4000]

        def check() -> dict[str, Any]:
            version, outcome, early = verification.share_target({"token": text})
            shown = authorize_share(
                user=request.user,
                license=version.license if version else None,
                operation="verify",
                **purpose,
            )
            if version is not None and shown is None:  # outside the grants: as not found
                version, early = None, 5
            if version is None:
                code = early if early is not None else 4
                return {"info_result": verification.info_result(code), "license": None}
            outcome = verification.version_outcome(version)
            return {
                "info_result": verification.info_result(verification.OUTCOME_CODES[outcome]),
                "outcome": verification.OUTCOME_LABELS[outcome],
                "license": verification.key_fields(version),
            }

        context |= _recorded(request, Operation.VERIFY, check, **purpose)
        context["form"] = request.POST
    return render(
        request, "console/using/verify_qr.html", context, status=context.get("status", 200)
    )
