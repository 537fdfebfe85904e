from django.urls import path

from shared.files.api import views as file_views
from shared.licenses.api import views

urlpatterns = [
    path("licenses/", views.LicenseListApi.as_view(), name="license-list"),
    path("licenses/batches/", views.BatchListApi.as_view(), name="batch-list"),
    # `str`, not `uuid`: a malformed id must answer this view's 404, not fall through to the
    # `<identifier>/<action>/` route below (405 for GET).
    path("licenses/batches/<str:batch_id>/", views.BatchDetailApi.as_view(), name="batch-detail"),
    path("licenses/<str:identifier>/", views.LicenseDetailApi.as_view(), name="license-detail"),
    path(
        "licenses/<str:identifier>/versions/",
        views.LicenseVersionListApi.as_view(),
        name="license-versions",
    ),
    path(
        "licenses/<str:identifier>/events/",
        views.LicenseEventListApi.as_view(),
        name="license-events",
    ),
    # Files (issue #3): before the catch-all action route below, which must stay last.
    path("licenses/<str:identifier>/file.pdf", file_views.LicenseFilePdfApi.as_view()),
    path("licenses/<str:identifier>/file.ofd", file_views.LicenseFileOfdApi.as_view()),
    path("licenses/<str:identifier>/qr.png", file_views.LicenseQrPngApi.as_view()),
    path("licenses/<str:identifier>/qr-token/", file_views.LicenseQrTokenApi.as_view()),
    path("licenses/<str:identifier>/archive.zip", file_views.LicenseArchiveApi.as_view()),
    path(
        "licenses/<str:identifier>/<str:action>/",
        views.LicenseActionApi.as_view(),
        name="license-action",
    ),
]
