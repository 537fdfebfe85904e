"""The hub's console screens, under /console/hub/ (the shared console is at /console/)."""

from django.urls import path

from provincial_hub.console import compliance, sectors, views

urlpatterns = [
    path("", views.dashboard, name="hub-console-dashboard"),
    path("cities/<str:code>/", views.city, name="hub-console-city"),
    path("cities/<str:code>/reconcile/", views.reconcile, name="hub-console-reconcile"),
    path("cities/<str:code>/files/retry/", views.files_retry, name="hub-console-files-retry"),
    # sector libraries and their health (i15-hubscreens)
    path("sectors/", sectors.sectors, name="hub-console-sectors"),
    path("sectors/<str:code>/probe/", sectors.probe, name="hub-console-sector-probe"),
    # supervision: compliance notices and the daily evaluations (i15-supervision)
    path("compliance/", compliance.notices, name="hub-compliance-notices"),
    path("compliance/issue/", compliance.notice_issue, name="hub-compliance-issue"),
    path("compliance/runs/", compliance.runs, name="hub-compliance-runs"),
    path("compliance/runs/now/", compliance.run_now, name="hub-compliance-run"),
    path("compliance/<str:notice_id>/", compliance.notice, name="hub-compliance-notice"),
    path(
        "compliance/<str:notice_id>/<str:kind>/",
        compliance.notice_decide,
        name="hub-compliance-decide",
    ),
]
