"""The holder portal's downloads (issue #14 item 2, #15 item 6): a holder signed in with a
one-time code — or a legal person's staff acting for it under a delegation — downloads the
signed files (PDF, OFD) and the archive package of their own licences. The API's file routes
answer agencies and the library administrator only; here the licence is found among the
holder's own (`portal.holder_license`): another holder's licence is a 404 page and nothing is
recorded. As every file handed out, the download is an access record (`download_record`,
naming both identities under a delegation) that the holder then sees in their own log. At the
hub a city's licence is held as its PDF only: OFD and archive are 404 with where to get them."""

from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from shared.access import portal
from shared.access.portal_views import holder_required
from shared.accounts.requests import AuthenticatedHttpRequest
from shared.core.errors import ApplicationError, NotFoundError
from shared.files import archive, selectors, services, storage
from shared.files.access import download_record
from shared.files.api.binary import binary_response, pdf_name
from shared.files.models import LicenseFile
from shared.files.remote import remote_files_for


def _file(request: AuthenticatedHttpRequest, identifier: str, kind: str) -> HttpResponse:
    acting = request.acting  # type: ignore[attr-defined]  # set by holder_required
    lic = portal.holder_license(holder=acting.holder, identifier=identifier)
    if kind == "archive":
        if remote_files_for(lic) is not None:  # at the hub: the city's PDF only (as the API)
            raise NotFoundError(
                "file.archive_not_held", "本库只保存该证照的 PDF 文件，归档包请向来源库获取"
            )
        data, content_type = archive.archive_build(lic=lic), "application/zip"
        name, identifier, file = storage.safe_name(lic.identifier) + ".zip", "", "archive.zip"
    else:
        found = selectors.file_for_download(lic=lic, identifier=identifier)
        file = f"file.{kind}"
        if kind == "pdf":
            data, content_type = storage.read(found.path), "application/pdf"
            name = pdf_name(identifier)
        else:
            if not isinstance(found, LicenseFile):  # at the hub: the city's PDF only
                raise NotFoundError(
                    "file.ofd_not_held", "本库只保存该证照的 PDF 文件，OFD 文件请向来源库获取"
                )
            row = services.license_file_ofd(row=found)
            data, content_type = storage.read(row.ofd_path), "application/ofd"
            name = storage.safe_name(identifier) + ".ofd"
    download_record(
        user=request.user,
        license=lic,
        file=file,
        identifier=identifier,
        extra=acting.record_detail(),
    )
    response = binary_response(data, content_type, name)
    if kind == "archive":
        response["Content-Disposition"] = response["Content-Disposition"].replace(
            "inline", "attachment"
        )
    return response


@require_GET
@holder_required
def holder_file(request: AuthenticatedHttpRequest, identifier: str, kind: str) -> HttpResponse:
    try:
        return _file(request, identifier[:200], kind)
    except NotFoundError as exc:  # not theirs (or not held here): a 404, nothing recorded
        return render(request, "access/holder/missing.html", {"message": exc.message}, status=404)
    except ApplicationError as exc:  # not ready yet: said on home
        request.session["holder_share"] = {"error": exc.message}
        return redirect("holder-home")
