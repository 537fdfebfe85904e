"""URL patterns every library serves, at either tier (DESIGN §8)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from shared.core import views

api_v1 = [
    path("", include("shared.accounts.api.urls")),
    path("", include("shared.catalog.api.urls")),
    path("", include("shared.calendars.api.urls")),
    # Files first: their per-licence routes come before the licences' catch-all action route.
    path("", include("shared.files.api.urls")),
    path("", include("shared.licenses.api.urls")),
    path("", include("shared.access.api.urls")),
    path("", include("shared.federation.api.urls")),
    path("", include("shared.audit.api.urls")),
    path("", include("shared.reviews.api.urls")),
    path("", include("shared.inspections.api.urls")),
    path("", include("shared.statistics.api.urls")),
    path("", include("shared.webhooks.api.urls")),
]

library_urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's initialiser as a script file, not inline: the
    # Content-Security-Policy allows scripts from this origin only (shared/conf/base.py).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("shared.ops.urls")),  # readyz, metrics
    path("admin/", admin.site.urls),
    path("", include("shared.files.urls")),
    path("", include("shared.access.urls")),
    path("", include("shared.identity.urls")),  # holder enrolment (issue #14)
    path("", include("shared.reviews.urls")),
    path("", include("shared.inspections.urls")),
    path("", include("shared.watch.urls")),
    # The staff console (issue #15); the site's root is the landing page (each role's sign-in).
    path("console/", include("shared.console.urls")),
    path("", include("shared.console.landing_urls")),
]
