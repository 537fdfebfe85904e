"""The holder portal's downloads (issue #15 item 6): a holder signed in with a one-time code
downloads the signed files (PDF, OFD) of their own licences. The API's file routes answer
agencies and the library administrator only; here the licence is found among the holder's
own (`portal.holder_license`, 404 otherwise) and, as every file handed out, the download is
an access record (`download_record`) that the holder then sees in their own access log."""

from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from shared.access import portal
from shared.access.portal_views import holder_required
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.errors import ApplicationError, NotFoundError
from shared.files import selectors, services, storage
from shared.files.access import download_record
from shared.files.api.binary import binary_response, pdf_name
from shared.files.models import LicenseFile


def _file(request: AuthenticatedHttpRequest, identifier: str, kind: str) -> HttpResponse:
    lic = portal.holder_license(holder=request.user, identifier=identifier)
    found = selectors.file_for_download(lic=lic, identifier=identifier)
    if kind == "pdf":
        data, content_type, name = storage.read(found.path), "application/pdf", pdf_name(identifier)
    else:
        if not isinstance(found, LicenseFile):  # at the hub: the city's PDF only (as the API)
            raise NotFoundError(
                "file.ofd_not_held", "本库只保存该证照的 PDF 文件，OFD 文件请向来源库获取"
            )
        row = services.license_file_ofd(row=found)
        data, content_type = storage.read(row.ofd_path), "application/ofd"
        name = storage.safe_name(identifier) + ".ofd"
    download_record(
        user=request.user,
        license=lic,
        file=f"file.{kind}",
        identifier=identifier,
        extra={"by": "holder"},
    )
    return binary_response(data, content_type, name)


@require_GET
@holder_required
def holder_file(request: AuthenticatedHttpRequest, identifier: str, kind: str) -> HttpResponse:
    try:
        return _file(request, identifier[:200], kind)
    except ApplicationError as exc:  # not theirs, not ready yet, not held here: said on home
        request.session["holder_share"] = {"error": exc.message}
        return redirect("holder-home")
