"""Pages outside /api/v1/: the public verify page a licence's QR code points to.

QR codes carry `HTTP://HOST/V/<TOKEN>` (upper case: the whole code is QR alphanumeric mode,
see `shared.files.documents.qr_url`); `/v/<token>` is the former spelling, still printed on
older licences and typed by people. Django matches paths case-sensitively, hence two routes.
"""

from django.urls import path

from shared.files import holder_views, views

urlpatterns = [
    path("v/<str:token>", views.verify_page, name="verify-page"),
    path("V/<str:token>", views.verify_page, name="verify-page-qr"),
    # The holder portal's downloads of the holder's own licence files (issue #15).
    path(
        "holder/licences/<str:identifier>/file.pdf",
        holder_views.holder_file,
        {"kind": "pdf"},
        name="holder-file-pdf",
    ),
    path(
        "holder/licences/<str:identifier>/file.ofd",
        holder_views.holder_file,
        {"kind": "ofd"},
        name="holder-file-ofd",
    ),
    path(
        "holder/licences/<str:identifier>/archive.zip",
        holder_views.holder_file,
        {"kind": "archive"},
        name="holder-file-archive",
    ),
]
