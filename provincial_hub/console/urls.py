"""The hub's console screens, under /console/hub/ (the shared console is at /console/)."""

from django.urls import path

from provincial_hub.console import views

urlpatterns = [
    path("", views.dashboard, name="hub-console-dashboard"),
    path("cities/<str:code>/", views.city, name="hub-console-city"),
    path("cities/<str:code>/reconcile/", views.reconcile, name="hub-console-reconcile"),
    path("cities/<str:code>/files/retry/", views.files_retry, name="hub-console-files-retry"),
]
