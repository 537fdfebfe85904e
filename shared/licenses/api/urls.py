from django.urls import path

from shared.licenses.api import views

urlpatterns = [
    path("licenses/", views.LicenseListApi.as_view(), name="license-list"),
    path("licenses/batches/", views.BatchListApi.as_view(), name="batch-list"),
    path("licenses/batches/<uuid:batch_id>/", views.BatchDetailApi.as_view(), name="batch-detail"),
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
    path(
        "licenses/<str:identifier>/<str:action>/",
        views.LicenseActionApi.as_view(),
        name="license-action",
    ),
]
