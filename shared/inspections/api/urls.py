from django.urls import path

from shared.inspections.api import views

# `str`, not `uuid`: a malformed id answers the view's 404 in the one error shape.
urlpatterns = [
    path("inspections/", views.InspectionListApi.as_view(), name="inspection-list"),
    path(
        "inspections/<str:inspection_id>/",
        views.InspectionDetailApi.as_view(),
        name="inspection-detail",
    ),
    path(
        "inspections/<str:inspection_id>/materials/<str:index>/",
        views.InspectionMaterialApi.as_view(),
        name="inspection-material",
    ),
    path(
        "inspections/<str:inspection_id>/approve/",
        views.InspectionApproveApi.as_view(),
        name="inspection-approve",
    ),
    path(
        "inspections/<str:inspection_id>/refuse/",
        views.InspectionRefuseApi.as_view(),
        name="inspection-refuse",
    ),
]
