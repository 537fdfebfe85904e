"""The holder portal's annual inspection pages, at the site root under /holder/."""

from django.urls import path

from shared.inspections import portal_views

urlpatterns = [
    path("holder/inspections/", portal_views.holder_inspections, name="holder-inspections"),
    path(
        "holder/inspections/submit/",
        portal_views.holder_inspection_submit,
        name="holder-inspection-submit",
    ),
]
