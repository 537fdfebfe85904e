"""Files, verification and sharing under /api/v1/, with the per-licence routes (file.pdf,
file.ofd, qr.png, qr-token/, archive.zip): shared/core/urls.py includes these before the
licences' routes, whose catch-all `licenses/<identifier>/<action>/` would take `qr-token/`."""

from django.urls import path

from shared.files.api import share, views

urlpatterns = [
    path("licenses/<str:identifier>/file.pdf", views.LicenseFilePdfApi.as_view()),
    path("licenses/<str:identifier>/file.ofd", views.LicenseFileOfdApi.as_view()),
    path("licenses/<str:identifier>/qr.png", views.LicenseQrPngApi.as_view()),
    path("licenses/<str:identifier>/qr-token/", views.LicenseQrTokenApi.as_view()),
    path("licenses/<str:identifier>/archive.zip", views.LicenseArchiveApi.as_view()),
    path("public/verify/<str:token>", views.PublicVerifyApi.as_view(), name="public-verify"),
    path("public/trust-list", views.TrustListApi.as_view(), name="trust-list"),
    path(
        "public/status-lists/<str:issuer_code>/<str:purpose>",
        views.StatusListApi.as_view(),
        name="status-list",
    ),
    path("share/verify/", share.ShareVerifyApi.as_view(), name="share-verify"),
    path("share/verify-file/", share.ShareVerifyFileApi.as_view(), name="share-verify-file"),
    path("share/copies/", share.CopyListApi.as_view(), name="share-copies"),
    path("share/copies/<uuid:copy_id>/", share.CopyDetailApi.as_view(), name="share-copy"),
    path(
        "share/copies/<uuid:copy_id>/file.pdf", share.CopyFileApi.as_view(), name="share-copy-file"
    ),
    path("files/", views.LicenseFileListApi.as_view(), name="file-list"),
    path("files/<int:file_id>/retry/", views.LicenseFileRetryApi.as_view(), name="file-retry"),
    path("files/legacy/", views.LegacyIssueApi.as_view(), name="file-legacy"),
]
