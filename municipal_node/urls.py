from django.urls import include, path

from shared.core.urls import library_urlpatterns

urlpatterns = [
    path("api/v1/", include("municipal_node.uplink.api.urls")),
    path("api/v1/", include("municipal_node.notices.api.urls")),
    path("console/node/", include("municipal_node.notices.console.urls")),
    *library_urlpatterns,
]

# JSON in the one error shape when DEBUG is off (as in production and the demo).
handler400 = "shared.core.views.bad_request"
handler403 = "shared.core.views.permission_denied"
handler404 = "shared.core.views.not_found"
handler500 = "shared.core.views.server_error"
