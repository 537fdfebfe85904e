from django.urls import path

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
    # The per-licence file routes (file.pdf, qr-token/, …) are the files app's, included
    # before these (shared/core/urls.py): the catch-all action route below must stay last.
    path(
        "licenses/<str:identifier>/<str:action>/",
        views.LicenseActionApi.as_view(),
        name="license-action",
    ),
]
