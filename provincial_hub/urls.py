from django.urls import include, path

from shared.core.urls import library_urlpatterns

urlpatterns = [
    path("api/v1/", include("provincial_hub.aggregation.api.urls")),
    path("api/v1/", include("provincial_hub.compliance.api.urls")),
    path("console/hub/", include("provincial_hub.console.urls")),
    path("", include("provincial_hub.compliance.urls")),
    *library_urlpatterns,
]

# JSON in the one error shape when DEBUG is off (as in production and the demo).
handler400 = "shared.core.views.bad_request"
handler403 = "shared.core.views.permission_denied"
handler404 = "shared.core.views.not_found"
handler500 = "shared.core.views.server_error"
