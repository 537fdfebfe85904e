from django.urls import include, path

from shared.core.urls import library_urlpatterns

urlpatterns = [
    path("api/v1/", include("shared.federation.api.urls_hub")),
    *library_urlpatterns,
]

handler404 = "shared.core.views.not_found"
handler500 = "shared.core.views.server_error"
